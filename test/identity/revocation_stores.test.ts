import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, MemoryLogger } from '../../src/core/index.js';
import { ApiKeyRegistry, RevocationList } from '../../src/identity/index.js';
import { recordStoreFactories } from '../support/stores.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const factories = recordStoreFactories(cleanups, { tmpPrefix: 'gh-revocation-' });

describe.each(factories)('revocation list and API keys on %s', (_name, factory) => {
  it('two replicas on one store: revocations and keys cross over; expired entries leave the feed', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const store = await factory(clock);
    cleanups.push(() => store.close());
    const logger = new MemoryLogger();
    const replica = async () => {
      const revocations = new RevocationList({ store, clock, logger, pageSize: 10 });
      await revocations.start();
      const keys = await ApiKeyRegistry.open({
        store,
        clock,
        logger,
        revocations,
        rotationOverlapMs: 60_000,
        refreshEveryMs: 5_000,
        lastUsedEveryMs: 60_000,
      });
      return { revocations, keys };
    };
    const a = await replica();
    const b = await replica();
    const nowS = Math.floor(clock.now() / 1000);
    for (let i = 0; i < 12; i++) await a.revocations.revoke({ jti: `t${i}`, exp: nowS + (i === 0 ? 60 : 3600) });
    expect(b.revocations.isRevoked('t5', clock.now())).toBe(false);
    await b.revocations.refresh();
    expect(b.revocations.isRevoked('t5', clock.now())).toBe(true);
    expect(b.revocations.isRevoked('t11', clock.now())).toBe(true);

    const { key, apiKey } = await a.keys.create({ name: 'svc', scopes: ['x'] });
    expect(b.keys.index.verify(key)).toBeUndefined(); // not yet reloaded
    clock.advance(5_000);
    b.keys.index.verify(key); // starts the background reload
    await b.keys.index.reload();
    expect(b.keys.index.verify(key)?.id).toBe(apiKey.id);
    await a.keys.revoke(apiKey.id);
    await b.revocations.refresh();
    expect(b.keys.index.verify(key)).toBeUndefined();

    // t0 expired (kept until exp + the verifiers' 2 min skew + 1 min for slow readers): the feed no longer lists it
    clock.advance(2 * 60_000);
    expect(b.revocations.isRevoked('t0', clock.now())).toBe(true); // a verifier with 120 s skew still accepts t0
    expect((await a.revocations.page(undefined)).items.map((i) => i.jti)).toContain('t0');
    clock.advance(2 * 60_000);
    const page = await a.revocations.page(undefined);
    expect(page.items.map((i) => i.jti)).not.toContain('t0');
    expect(page.items.map((i) => i.jti)).toContain('t1');
    expect(b.revocations.isRevoked('t0', clock.now())).toBe(false);
  });

  it('takes a revocation made after exp while a verifier may still accept the token (clock skew)', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const store = await factory(clock);
    cleanups.push(() => store.close());
    const list = new RevocationList({ store, clock, logger: new MemoryLogger(), pageSize: 10 });
    await list.start();
    const seen: string[] = [];
    list.onRevoked((item) => seen.push(item.jti ?? ''));
    const exp = Math.floor(clock.now() / 1000) - 30; // expired 30 s ago: inside a 120 s skew
    await list.revoke({ jti: 'late', exp });
    expect(list.isRevoked('late', clock.now())).toBe(true);
    expect(seen).toEqual(['late']);
    expect((await list.page(undefined)).items.map((i) => i.jti)).toEqual(['late']);
    await list.revoke({ jti: 'gone', exp: exp - 120 }); // 150 s past exp: no verifier accepts it any more
    expect(list.isRevoked('gone', clock.now())).toBe(false);
    expect(seen).toEqual(['late']);
  });
});
