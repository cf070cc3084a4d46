import { describe, expect, it } from 'vitest';
import { GatehouseError, ManualClock, MemoryLogger } from '../../src/core/index.js';
import {
  FallbackLimiterStore,
  MemoryLimiterStore,
  type ConsumeRequest,
  type LimiterStore,
  type RateLimit,
} from '../../src/ratelimit/index.js';
import { limiterStoreContract } from './limiter_store.contract.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const limit: RateLimit = { rate: 1, period: 60_000, burst: 2 };

/** A shared store that can be taken down (ERR_STORE_UNAVAILABLE), hung (never answers) or made to throw otherwise. */
class Switchable implements LimiterStore {
  mode: 'up' | 'down' | 'hung' | 'invalid' = 'up';
  calls = 0;
  constructor(readonly inner: MemoryLimiterStore) {}
  async consume(key: string, l: RateLimit, cost?: number) {
    return (await this.consumeMany([{ key, limit: l, cost: cost ?? 1 }]))[0]!;
  }
  async consumeMany(requests: readonly ConsumeRequest[]) {
    this.calls += 1;
    if (this.mode === 'down')
      throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'redis: connection refused' });
    if (this.mode === 'hung') return new Promise<never>(() => {});
    if (this.mode === 'invalid') throw new GatehouseError('ERR_CONFIG_INVALID', { message: 'bad limit' });
    return this.inner.consumeMany(requests);
  }
  async reset(key: string) {
    if (this.mode !== 'up') throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'down' });
    await this.inner.reset(key);
  }
  async close() {}
}

function fixture(timeoutMs = 1000) {
  const clock = new ManualClock(T0);
  const logger = new MemoryLogger();
  const shared = new Switchable(new MemoryLimiterStore({ clock, maxKeys: 1000 }));
  const local = new MemoryLimiterStore({ clock, maxKeys: 1000 });
  const store = new FallbackLimiterStore({ shared, local, clock, logger, timeoutMs, retryMs: 1000 });
  return { clock, logger, shared, local, store };
}

limiterStoreContract('FallbackLimiterStore (shared store up)', async () => {
  const { store, clock } = fixture();
  return { store, clock };
});

describe('FallbackLimiterStore', () => {
  it('decides in process while the shared store is down, retries it after retryMs, and logs each switch once', async () => {
    const { clock, logger, shared, store } = fixture();
    for (let i = 0; i < 3; i += 1) expect((await store.consume('k', limit)).allowed).toBe(true);
    expect((await store.consume('k', limit)).allowed).toBe(false); // shared: burst + 1 spent
    expect(shared.calls).toBe(4);

    shared.mode = 'down';
    expect((await store.consume('k', limit)).allowed).toBe(true); // the local store has its own, fresh count
    expect(store.shared).toBe(false);
    for (let i = 0; i < 2; i += 1) await store.consume('k', limit);
    expect((await store.consume('k', limit)).allowed).toBe(false); // local limits still apply
    expect(shared.calls).toBe(5); // not tried again within retryMs
    expect(logger.lines.filter((l) => l.event === 'limiter_shared_down')).toHaveLength(1);

    shared.mode = 'up';
    clock.advance(999);
    await store.consume('other', limit);
    expect(shared.calls).toBe(5);
    clock.advance(1);
    expect((await store.consume('k', limit)).allowed).toBe(false); // the shared count again (still spent)
    expect(shared.calls).toBe(6);
    expect(store.shared).toBe(true);
    expect(logger.lines.filter((l) => l.event === 'limiter_shared_recovered')).toHaveLength(1);
  });

  it('falls back when the shared store does not answer within timeoutMs', async () => {
    const { shared, store } = fixture(20);
    shared.mode = 'hung';
    expect((await store.consume('k', limit)).allowed).toBe(true);
    expect(store.shared).toBe(false);
  });

  it('lets other errors through without switching', async () => {
    const { shared, store } = fixture();
    shared.mode = 'invalid';
    await expect(store.consume('k', limit)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect(store.shared).toBe(true);
  });

  it('resets the key locally even while the shared store is down', async () => {
    const { shared, local, store } = fixture();
    shared.mode = 'down';
    for (let i = 0; i < 3; i += 1) await store.consume('k', limit);
    expect((await local.consume('k', limit, 0)).remaining).toBe(0);
    await store.reset('k');
    expect((await local.consume('k', limit, 0)).remaining).toBe(3);
  });
});
