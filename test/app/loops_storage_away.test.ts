import { afterEach, describe, expect, it, vi } from 'vitest';
import { CaFollower } from '../../src/app/ca_follower.js';
import { ManualClock, MemoryLogger } from '../../src/core/index.js';
import { identityHarness, type Harness } from '../identity/harness.js';
import { fixture } from '../pki/helpers.js';
import { storeThatCanGoAway } from '../support/store_away.js';

/**
 * A replica whose PostgreSQL goes away used to log every tick of its background loops (revocation refresh, API key
 * reload, CA refresh as errors...): several lines a second. Now each loop warns once, naming itself and the reason,
 * and says once that it recovered, with the count.
 */
let h: Harness | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await h?.close();
  h = undefined;
});

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('background loops while the storage is away', () => {
  it('the revocation refresh and the API key reload warn once and say when they recovered', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const { store, setAway } = storeThatCanGoAway(clock);
    h = await identityHarness({ revocation: { refreshEvery: '1s' } }, { store, clock });
    const { logger } = h;
    const index = h.identity.apiKeys.index;
    const lines = (loop: string) => logger.lines.filter((l) => l.loop === loop).map((l) => [l.level, l.event]);

    setAway(true);
    for (let i = 0; i < 8; i++) {
      clock.advance(1000);
      await index.refresh();
      await vi.advanceTimersByTimeAsync(1000);
      await flush();
    }
    expect(lines('revocation refresh')).toEqual([['warn', 'loop_failing']]);
    expect(lines('API key reload')).toEqual([['warn', 'loop_failing']]);

    setAway(false);
    await index.refresh();
    await vi.advanceTimersByTimeAsync(1000);
    await flush();
    expect(lines('revocation refresh')).toEqual([
      ['warn', 'loop_failing'],
      ['info', 'loop_recovered'],
    ]);
    const recovered = logger.lines.find((l) => l.loop === 'API key reload' && l.event === 'loop_recovered');
    expect(recovered).toMatchObject({ failures: 8, msg: 'API key reload recovered after 8 failures, 7s' });
  });

  it('the CA refresh warns once (not an error per tick) while the storage is away', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const f = fixture();
    const { store, setAway } = storeThatCanGoAway(f.clock);
    const authority = await f.open({ store });
    const logger = new MemoryLogger();
    const follower = new CaFollower({ authority, clock: f.clock, logger });
    follower.start(1000);
    setAway(true);
    for (let i = 0; i < 5; i++) {
      f.clock.advance(1000);
      await vi.advanceTimersByTimeAsync(1000);
      await flush();
    }
    setAway(false);
    await vi.advanceTimersByTimeAsync(1000);
    await flush();
    follower.stop();
    expect(logger.lines.map((l) => [l.level, l.loop, l.event, l.failures])).toEqual([
      ['warn', 'CA refresh', 'loop_failing', undefined],
      ['info', 'CA refresh', 'loop_recovered', 5],
    ]);
  });
});
