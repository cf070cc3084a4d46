import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse, type TestGatehouse } from '../support/up.js';

/**
 * A replica whose Redis is unreachable used to wait 5 s for the identity limiter's connection and then another 5 s
 * for the revocation subscription. The subscription now skips its wait when the limiter has already waited in vain:
 * the start waits once (the lines say how long each part waited), with the same two warnings.
 */
let up: TestGatehouse | undefined;
let remove: (() => void) | undefined;
afterEach(async () => {
  await up?.stop();
  remove?.();
  up = undefined;
});

describe('gatehouse up with Redis unreachable', () => {
  it('waits for Redis once at start, and still warns for the limits and the revocation fan-out', async () => {
    const tmp = tempDir('gh-redis-down-');
    remove = tmp.remove;
    const logger = new MemoryLogger();
    // port 1 on loopback: refused at once, so every wait for Redis runs its whole budget
    up = await startTestGatehouse({
      dataDir: join(tmp.dir, 'data'),
      overrides: { redis: { url: 'redis://127.0.0.1:1', keyPrefix: 'redis-down-start-test:' } },
      logger,
    });
    const waits = logger.lines.filter((l) => l.event === 'limiter_shared_down' || l.event === 'revocation_bus_pending');
    expect(waits.map((l) => [l.event, l['redis'], l['waitedMs']])).toEqual([
      ['limiter_shared_down', '127.0.0.1:1', 5000],
      ['revocation_bus_pending', '127.0.0.1:1', 0],
    ]);
  }, 60_000);
});
