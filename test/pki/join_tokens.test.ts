import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, isGatehouseError, type RecordStore } from '../../src/core/index.js';
import { MemoryRecordStore, PostgresRecordStore, SqliteRecordStore } from '../../src/adapters/index.js';
import { JoinTokens, JOIN_TOKEN_COLLECTION, Revocations, isDenied } from '../../src/pki/index.js';
import { freshPostgresSchema, type FreshPostgresSchema } from '../support/postgres.js';
import { T0 } from './helpers.js';

const ID = 'spiffe://gatehouse.test/ns/prod/sa/api';

async function raceConsumes(stores: RecordStore[], clock: ManualClock): Promise<void> {
  const issuer = new JoinTokens(stores[0]!, clock);
  const { token } = await issuer.create(ID, 600_000);
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => new JoinTokens(stores[i % stores.length]!, clock).consume(token)),
  );
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r) => r.status === 'rejected');
  expect(won).toHaveLength(1);
  expect((won[0] as PromiseFulfilledResult<string>).value).toBe(ID);
  for (const r of lost)
    expect(isGatehouseError((r as PromiseRejectedResult).reason, 'ERR_PKI_JOIN_TOKEN_INVALID')).toBe(true);
}

describe('join tokens', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('are shown once, stored as a digest, single use and expire', async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryRecordStore({ clock });
    const tokens = new JoinTokens(store, clock);
    const { token, expiresAt } = await tokens.create(ID, 600_000);
    expect(token).toMatch(/^ghj_[A-Za-z0-9_-]{43}$/);
    expect(expiresAt).toBe(T0 + 600_000);
    const stored = await store.list(JOIN_TOKEN_COLLECTION);
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(token.slice(4));
    expect(await tokens.consume(token)).toBe(ID);
    await expect(tokens.consume(token)).rejects.toMatchObject({ code: 'ERR_PKI_JOIN_TOKEN_INVALID' });
    const late = await tokens.create(ID, 1000);
    clock.advance(1000);
    await expect(tokens.consume(late.token)).rejects.toMatchObject({ code: 'ERR_PKI_JOIN_TOKEN_INVALID' });
    await expect(tokens.consume('ghj_unknown')).rejects.toMatchObject({ code: 'ERR_PKI_JOIN_TOKEN_INVALID' });
    await expect(tokens.consume('x'.repeat(500))).rejects.toMatchObject({ code: 'ERR_PKI_JOIN_TOKEN_INVALID' });
  });

  it('have exactly one winner among 20 parallel consumes on SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-jt-'));
    const clock = new ManualClock(T0);
    const a = SqliteRecordStore.open({ file: join(dir, 'db'), clock, busyTimeoutMs: 5000 });
    const b = SqliteRecordStore.open({ file: join(dir, 'db'), clock, busyTimeoutMs: 5000 });
    cleanups.push(
      () => rmSync(dir, { recursive: true, force: true }),
      () => a.close(),
      () => b.close(),
    );
    await raceConsumes([a, b], clock);
  });

  it('have exactly one winner among 20 parallel consumes on PostgreSQL', async () => {
    const pgSchema: FreshPostgresSchema = await freshPostgresSchema();
    cleanups.push(() => pgSchema.drop());
    const clock = new ManualClock(T0);
    const stores = await Promise.all(
      [0, 1].map(() => PostgresRecordStore.open({ ...pgSchema, poolSize: 4, ssl: false, clock })),
    );
    for (const s of stores) cleanups.push(() => s.close());
    await raceConsumes(stores, clock);
  });
});

describe('revocations', () => {
  it('deny certificates issued before revocation, for one maximum lifetime', async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryRecordStore({ clock });
    const revocations = new Revocations(store, clock, 86_400_000);
    const before = clock.now() - 5000;
    await revocations.revoke(ID);
    expect(await revocations.isRevoked(ID, before)).toBe(true);
    expect(await revocations.isRevoked('spiffe://gatehouse.test/ns/prod/sa/other', before)).toBe(false);
    clock.advance(60_000);
    expect(await revocations.isRevoked(ID, clock.now())).toBe(false); // re-enrolled after revocation
    const list = await revocations.denyList();
    expect(list).toEqual([{ spiffeId: ID, revokedAt: T0, expiresAt: T0 + 86_400_000 + 60_000 }]);
    expect(isDenied(list, ID, before)).toBe(true);
    expect(isDenied(list, ID, T0 + 1)).toBe(false);
    clock.advance(86_400_000);
    expect(await revocations.denyList()).toEqual([]);
  });
});
