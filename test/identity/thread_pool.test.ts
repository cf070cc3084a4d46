import { describe, expect, it } from 'vitest';
import { threadPoolSize } from '../../src/config/index.js';
import { identityHarness } from './harness.js';

/** scrypt and the token endpoint's signatures share libuv's thread pool: a hash budget that fills it is logged. */
describe('identity.signIn.hashConcurrency and the thread pool', () => {
  it('reads UV_THREADPOOL_SIZE as libuv does (else 4)', () => {
    expect(threadPoolSize({})).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '8' })).toBe(8);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: 'x' })).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '0' })).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '5000' })).toBe(1024);
  });

  it('warns at start when hashes could occupy every thread, and not at the default', async () => {
    const pool = threadPoolSize(process.env);
    const warned = async (hashConcurrency: number) => {
      const h = await identityHarness({ signIn: { hashConcurrency } });
      try {
        return h.logger.lines.some((l) => l['event'] === 'hash_concurrency_fills_thread_pool');
      } finally {
        await h.close();
      }
    };
    expect(await warned(Math.min(pool, 64))).toBe(true);
    expect(await warned(Math.max(1, Math.min(pool - 1, 2)))).toBe(false);
  });
});
