import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRecordStore } from '../../../src/adapters/index.js';
import { ManualClock, randomId, type RecordStore } from '../../../src/core/index.js';
import {
  AuthorizationCodes,
  REFRESH_BY_USER_COLLECTION,
  REFRESH_TOKENS_COLLECTION,
  RefreshTokens,
  type IssuedAccess,
  type RefreshUse,
} from '../../../src/identity/index.js';
import { recordStoreFactories, type StoreFactory } from '../../support/stores.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const factories = recordStoreFactories(cleanups, { tmpPrefix: 'gh-refresh-', postgresPoolSize: 8 });

const HOUR = 3600_000;

function family(familyId = RefreshTokens.newFamilyId()) {
  return {
    familyId,
    clientId: 'web',
    account: 'ada',
    username: 'ada',
    generation: 1,
    roles: [],
    scopes: ['orders:read', 'offline_access'],
    audience: 'https://orders.test.example',
    authTime: 0,
  };
}

const access = (): IssuedAccess => ({ jti: randomId(), exp: 2_000_000_000 });

async function setup(factory: StoreFactory, graceMs: number) {
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
  const store = await factory(clock);
  cleanups.push(() => store.close());
  const revoked: IssuedAccess[][] = [];
  const refresh = new RefreshTokens({
    store,
    clock,
    idleMs: 24 * HOUR,
    absoluteMs: 72 * HOUR,
    graceMs,
    onRevoked: async (_family, items) => {
      revoked.push(items);
    },
  });
  return { clock, store, refresh, revoked };
}

async function liveSuccessors(store: RecordStore, familyId: string): Promise<number> {
  const records = await store.list<{ usedAt: number | null }>(REFRESH_TOKENS_COLLECTION, { prefix: `${familyId}:` });
  return records.filter((r) => r.value.usedAt === null).length;
}

describe.each(factories)('refresh token rotation on %s', (_name, factory) => {
  it('50 parallel uses of one token, no grace window: exactly one winner, then the family is revoked', async () => {
    const { store, refresh, revoked } = await setup(factory, 0);
    const f = family();
    const { token } = await refresh.start(f, access());
    const uses: RefreshUse[] = await Promise.all(Array.from({ length: 50 }, () => refresh.use(token, access)));
    expect(uses.filter((u) => u.kind === 'rotated')).toHaveLength(1);
    // Every loser is refused: a reuse (which revokes the family), or, for a use that first looks the token up after
    // that revocation finished, invalid (the family is gone). Which of the two depends on timing under load.
    const losers = uses.filter((u) => u.kind !== 'rotated');
    expect(losers.every((u) => u.kind === 'reused' || u.kind === 'invalid')).toBe(true);
    expect(losers.filter((u) => u.kind === 'reused').length).toBeGreaterThan(0);
    expect(await liveSuccessors(store, f.familyId)).toBe(1); // never two live successors
    expect(await refresh.familyOf(token)).toBeUndefined(); // the reuse revoked the family
    const winner = uses.find((u) => u.kind === 'rotated') as { token: string };
    expect((await refresh.use(winner.token, access)).kind).toBe('invalid');
    expect(revoked.length).toBeGreaterThan(0);
    expect(revoked.at(-1)?.length).toBe(2); // the first access token and the winner's
  });

  it('50 parallel uses inside a grace window: one rotation, everyone gets the same successor', async () => {
    const { store, refresh, clock } = await setup(factory, 10_000);
    const f = family();
    const { token } = await refresh.start(f, access());
    const uses = await Promise.all(Array.from({ length: 50 }, () => refresh.use(token, access)));
    expect(uses.filter((u) => u.kind === 'rotated')).toHaveLength(1);
    expect(uses.filter((u) => u.kind === 'grace')).toHaveLength(49);
    const tokens = new Set(uses.map((u) => (u as { token: string }).token));
    expect(tokens.size).toBe(1);
    expect(await liveSuccessors(store, f.familyId)).toBe(1);
    const successor = [...tokens][0] as string;
    // once the successor is used, a late reuse of the first token revokes the family even inside the window
    clock.advance(1000);
    const next = await refresh.use(successor, access);
    expect(next.kind).toBe('rotated');
    expect((await refresh.use(token, access)).kind).toBe('reused');
    expect((await refresh.use((next as { token: string }).token, access)).kind).toBe('invalid');
  });
});

describe('refresh token expiry and grace edges', () => {
  it('a reuse after the grace window revokes; idle and absolute expiry', async () => {
    const { refresh, clock } = await setup(async (c) => new MemoryRecordStore({ clock: c }), 5_000);
    const { token } = await refresh.start(family(), access());
    const first = await refresh.use(token, access);
    clock.advance(5_001);
    expect((await refresh.use(token, access)).kind).toBe('reused');
    expect((await refresh.use((first as { token: string }).token, access)).kind).toBe('invalid');

    const second = await refresh.start(family(), access());
    clock.advance(24 * HOUR - 1);
    const kept = await refresh.use(second.token, access);
    expect(kept.kind).toBe('rotated');
    clock.advance(24 * HOUR); // idle: exactly the idle time without use
    expect((await refresh.use((kept as { token: string }).token, access)).kind).toBe('invalid');

    const third = await refresh.start(family(), access());
    let current = third.token;
    for (let i = 0; i < 3; i++) {
      clock.advance(23 * HOUR);
      const use = await refresh.use(current, access);
      expect(use.kind).toBe('rotated');
      current = (use as { token: string }).token;
    }
    clock.advance(3 * HOUR + 1); // 72 h after the start: absolute expiry whatever the use
    expect((await refresh.use(current, access)).kind).toBe('invalid');
  });

  it('familiesOf (the account page) leaves out a family once its idle limit has passed; a rotation moves the limit', async () => {
    const { refresh, clock, revoked } = await setup(async (c) => new MemoryRecordStore({ clock: c }), 0);
    const listed = async () => (await refresh.familiesOf('ada')).map((f) => f.familyId).sort();
    const idle = family();
    const active = family();
    const idleStart = await refresh.start(idle, access());
    const activeStart = await refresh.start(active, access());
    clock.advance(12 * HOUR);
    const rotated = await refresh.use(activeStart.token, access);
    expect(rotated.kind).toBe('rotated');
    clock.advance(12 * HOUR - 1); // just before the idle limit of the family never refreshed
    expect(await listed()).toEqual([idle.familyId, active.familyId].sort());
    clock.advance(1); // at it: its one unused token has expired, so it cannot refresh and is not listed
    expect(await listed()).toEqual([active.familyId]);
    expect((await refresh.use(idleStart.token, access)).kind).toBe('invalid');
    clock.advance(12 * HOUR - 1); // the rotated family: just before 24 h after its last rotation
    expect(await listed()).toEqual([active.familyId]);
    clock.advance(1);
    expect(await listed()).toEqual([]);
    // "Revoke" still reaches idle-expired families (their access tokens may outlive a short idle limit)
    expect(await refresh.revokeClientOf('ada', 'web')).toBe(2);
    expect(revoked).toHaveLength(2);
  });

  it('familiesOf: an index entry written before the idle expiry was recorded is judged by its unused token', async () => {
    const { refresh, clock, store } = await setup(async (c) => new MemoryRecordStore({ clock: c }), 0);
    const f = family();
    const { family: started } = await refresh.start(f, access());
    const key = `ada|${f.familyId}`;
    await store.write([
      { op: 'upsert', collection: REFRESH_BY_USER_COLLECTION, key, value: {}, expiresAt: started.absoluteExpiresAt },
    ]);
    clock.advance(24 * HOUR - 1);
    expect((await refresh.familiesOf('ada')).map((x) => x.familyId)).toEqual([f.familyId]);
    clock.advance(1);
    expect(await refresh.familiesOf('ada')).toEqual([]);
  });

  it('malformed tokens are invalid without touching the store', async () => {
    const { refresh } = await setup(async (c) => new MemoryRecordStore({ clock: c }), 0);
    for (const bad of ['', 'ghr_', 'ghr_zz_yy', 'x'.repeat(5000)]) {
      expect((await refresh.use(bad, access)).kind).toBe('invalid');
    }
  });
});

describe.each(factories)('authorization codes on %s', (_name, factory) => {
  it('50 parallel exchanges of one code: exactly one fresh use', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const store = await factory(clock);
    cleanups.push(() => store.close());
    const codes = new AuthorizationCodes({ store, clock, ttlMs: 60_000 });
    const code = await codes.issue({
      ...family(),
      redirectUri: 'https://app.example/cb',
      redirectUriGiven: true,
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    });
    const uses = await Promise.all(Array.from({ length: 50 }, () => codes.consume(code)));
    expect(uses.filter((u) => u.kind === 'fresh')).toHaveLength(1);
    expect(uses.filter((u) => u.kind === 'replayed')).toHaveLength(49);
    // the replays came before the fresh exchange recorded its token: it must not hand one out
    expect(await codes.recordAccess(code, { jti: 'late', exp: 2_000_000_000 })).toBe(false);
  });

  it('a replay after the exchange gets the access token to revoke; a replay before it refuses the exchange', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const store = await factory(clock);
    cleanups.push(() => store.close());
    const codes = new AuthorizationCodes({ store, clock, ttlMs: 60_000 });
    const grant = {
      ...family(),
      redirectUri: 'https://app.example/cb',
      redirectUriGiven: true,
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    };
    const after = await codes.issue(grant);
    expect((await codes.consume(after)).kind).toBe('fresh');
    expect(await codes.recordAccess(after, { jti: 'j-1', exp: 2_000_000_000 })).toBe(true);
    expect(await codes.consume(after)).toMatchObject({
      kind: 'replayed',
      access: [{ jti: 'j-1', exp: 2_000_000_000 }],
    });
    const before = await codes.issue(grant);
    expect((await codes.consume(before)).kind).toBe('fresh');
    expect(await codes.consume(before)).toMatchObject({ kind: 'replayed', access: [] });
    expect(await codes.recordAccess(before, { jti: 'j-2', exp: 2_000_000_000 })).toBe(false);
  });
});
