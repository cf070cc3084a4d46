import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { generateSigningKey } from '../../src/crypto/index.js';
import { newApiKey } from '../../src/identity/index.js';
import { API_KEY_PREFIX, bearerChallenge, createVerifier, type Verifier } from '../../src/resource/index.js';
import { AUDIENCE, ISSUER, jwksOf, mint, startFakeIssuer, type FakeIssuer } from './helpers.js';

const key = generateSigningKey('ES256', 'k1');
const T0 = Date.parse('2026-06-01T00:00:00Z');
const sec = (clock: ManualClock): number => Math.floor(clock.now() / 1000);

let issuer: FakeIssuer;
let clock: ManualClock;
const verifiers: Verifier[] = [];
beforeAll(async () => {
  issuer = await startFakeIssuer();
});
afterAll(async () => {
  await issuer.close();
});
beforeEach(async () => {
  await Promise.all(verifiers.splice(0).map((v) => v.close()));
  issuer.revocations = [];
  issuer.active.clear();
  issuer.counts = { jwks: 0, revocations: 0, introspect: 0, unauthorized: 0 };
  clock = new ManualClock(T0);
});

function make(revocation: Parameters<typeof createVerifier>[0]['revocation'], extra = {}): Verifier {
  const v = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: jwksOf(key) },
    revocation,
    clock,
    fetchTimeoutMs: 2000,
    tls: { ca: issuer.ca },
    ...extra,
  });
  verifiers.push(v);
  return v;
}

const statusOf = (v: Verifier, token: string): Promise<number> =>
  v.verifyToken(token).then(
    () => 200,
    (err: unknown) => bearerChallenge(err, 'r').status,
  );

const feed = () => ({
  mode: 'poll' as const,
  feedUrl: `${issuer.url}/revocations`,
  credentials: async () => issuer.feedToken,
  intervalMs: 50,
});

describe('revocation: poll', () => {
  it('a revoked jti is refused after the next poll, also when it was cached', async () => {
    const v = make(feed(), { jwks: { keys: jwksOf(key) } });
    await v.start();
    const token = mint(key, sec(clock), { jti: 'j-1' });
    expect(await statusOf(v, token)).toBe(200);
    issuer.revocations.push({ jti: 'j-1', exp: sec(clock) + 300 });
    const polls = issuer.counts.revocations;
    await expect.poll(() => issuer.counts.revocations, { interval: 20, timeout: 5000 }).toBeGreaterThan(polls + 1);
    expect(await statusOf(v, token)).toBe(401);
    expect(await statusOf(v, mint(key, sec(clock), { jti: 'j-2' }))).toBe(200);
  });

  it('a revoked signing key id refuses every token it signed', async () => {
    issuer.revocations.push({ key_id: 'k1', exp: sec(clock) + 600 });
    const v = make(feed());
    await v.start();
    expect(await statusOf(v, mint(key, sec(clock)))).toBe(401);
  });

  it('sends the feed credential; a feed that refuses it leaves the verifier failing closed (503)', async () => {
    const v = make({ ...feed(), credentials: async () => 'wrong' });
    await v.start();
    expect(issuer.counts.unauthorized).toBeGreaterThan(0);
    expect(await statusOf(v, mint(key, sec(clock)))).toBe(503);
  });

  it('fails closed when the feed has been silent longer than maxStalenessMs', async () => {
    const v = make({ ...feed(), intervalMs: 60_000, maxStalenessMs: 60_000 });
    await v.start();
    expect(await statusOf(v, mint(key, sec(clock)))).toBe(200);
    clock.advance(60_001);
    expect(await statusOf(v, mint(key, sec(clock)))).toBe(503);
  });
});

describe('revocation: push subscription', () => {
  it('an item pushed through the subscribe port is refused at once, cached or not; close unsubscribes', async () => {
    let push: ((item: { jti?: string; key_id?: string; exp: number }) => void) | undefined;
    let unsubscribed = false;
    const v = make({
      mode: 'off',
      subscribe: async (onItem) => {
        push = onItem;
        return async () => {
          unsubscribed = true;
        };
      },
    });
    await v.start();
    const token = mint(key, sec(clock), { jti: 'p-1' });
    expect(await statusOf(v, token)).toBe(200);
    push?.({ jti: 'p-1', exp: sec(clock) + 60 });
    expect(await statusOf(v, token)).toBe(401);
    await v.close();
    expect(unsubscribed).toBe(true);
  });
});

describe('revocation: through the clock skew after exp', () => {
  it('a revoked token stays refused until exp + clockSkewSeconds, the time the claims check accepts it until', async () => {
    let push: ((item: { jti?: string; key_id?: string; exp: number }) => void) | undefined;
    const v = make(
      {
        mode: 'off',
        subscribe: async (onItem) => {
          push = onItem;
          return async () => {};
        },
      },
      { clockSkewSeconds: 30 },
    );
    await v.start();
    const exp = sec(clock) + 60;
    const revoked = mint(key, sec(clock), { jti: 's-1', exp });
    const kept = mint(key, sec(clock), { jti: 's-2', exp });
    const late = mint(key, sec(clock), { jti: 's-3', exp });
    for (const token of [revoked, kept, late]) expect(await statusOf(v, token)).toBe(200);
    push?.({ jti: 's-1', exp });
    expect(await statusOf(v, revoked)).toBe(401);
    // 10 s past exp: the cache no longer serves the tokens, the claims check still accepts them (skew 30 s)
    clock.set(exp * 1000 + 10_000);
    expect(await statusOf(v, kept)).toBe(200);
    expect(await statusOf(v, revoked)).toBe(401);
    // a revocation that arrives after exp but inside the skew still counts
    push?.({ jti: 's-3', exp });
    expect(await statusOf(v, late)).toBe(401);
    clock.set((exp + 30) * 1000 - 1); // the last accepted millisecond
    expect(await statusOf(v, kept)).toBe(200);
    expect(await statusOf(v, revoked)).toBe(401);
    clock.set((exp + 30) * 1000); // expired for everyone
    expect(await statusOf(v, kept)).toBe(401);
  });
});

describe('cachedPrincipal: the synchronous fast path of verifyRequest', () => {
  it('answers only remembered tokens, and applies revocation and feed staleness on every call', async () => {
    let push: ((item: { jti?: string; key_id?: string; exp: number }) => void) | undefined;
    const v = make({
      ...feed(),
      intervalMs: 60_000,
      maxStalenessMs: 60_000,
      subscribe: async (onItem) => {
        push = onItem;
        return async () => {};
      },
    });
    await v.start();
    const token = mint(key, sec(clock), { jti: 'c-1' });
    const headers = { authorization: `Bearer ${token}` };
    expect(v.cachedPrincipal?.(headers)).toBeUndefined(); // never verified: the caller must take verifyRequest
    const verified = await v.verifyRequest(headers);
    expect(v.cachedPrincipal?.(headers)).toBe(verified);
    // Malformed: never remembered, so the caller takes verifyRequest, which refuses it (400) as before.
    expect(v.cachedPrincipal?.({ authorization: 'Bearer not a token!' })).toBeUndefined();
    await expect(v.verifyRequest({ authorization: 'Bearer not a token!' })).rejects.toMatchObject({
      code: 'ERR_TOKEN_REQUEST_INVALID',
    });
    expect(() => v.cachedPrincipal?.({})).toThrow(); // missing: 401 as before
    push?.({ jti: 'c-1', exp: sec(clock) + 60 });
    expect(() => v.cachedPrincipal?.(headers)).toThrow(expect.objectContaining({ detail: 'revoked or key withdrawn' }));
    await expect(v.verifyRequest(headers)).rejects.toThrow();
    const other = { authorization: `Bearer ${mint(key, sec(clock), { jti: 'c-2' })}` };
    await v.verifyRequest(other);
    clock.advance(60_001);
    let status = 0;
    try {
      v.cachedPrincipal?.(other);
    } catch (err) {
      status = bearerChallenge(err, 'r').status;
    }
    expect(status).toBe(503); // the feed is stale: fail closed on the fast path too
  });

  it('checks the certificate binding of a cnf-bound token on every call', async () => {
    const v = make({ mode: 'off' });
    await v.start();
    const bound = mint(key, sec(clock), { jti: 'c-3', cnf: { 'x5t#S256': 'A'.repeat(43) } });
    const headers = { authorization: `Bearer ${bound}` };
    await v.verifyRequest(headers, { certificateThumbprint: 'A'.repeat(43) });
    expect(v.cachedPrincipal?.(headers, { certificateThumbprint: 'A'.repeat(43) })?.sub).toBeDefined();
    expect(() => v.cachedPrincipal?.(headers, { certificateThumbprint: 'B'.repeat(43) })).toThrow();
    expect(() => v.cachedPrincipal?.(headers)).toThrow();
  });
});

describe('revocation: introspect', () => {
  it('asks the issuer per uncached token, caches the answer briefly, never past exp', async () => {
    const v = make({
      mode: 'introspect',
      introspection: { url: `${issuer.url}/introspect`, ...issuer.introspectionClient },
      cacheTtlMs: 10_000,
    });
    const token = mint(key, sec(clock), { exp: sec(clock) + 5 });
    issuer.active.set(token, { sub: 'alice' });
    expect(await statusOf(v, token)).toBe(200);
    expect(await statusOf(v, token)).toBe(200);
    expect(issuer.counts.introspect).toBe(1);
    issuer.active.delete(token); // revoked at the issuer
    clock.advance(4_000);
    expect(await statusOf(v, token)).toBe(200); // still cached (staleness ≤ cacheTtlMs)
    clock.advance(1_000); // exp reached: the cache entry is gone whatever the ttl
    expect(await statusOf(v, token)).toBe(401);
    const other = mint(key, sec(clock));
    expect(await statusOf(v, other)).toBe(401); // inactive at the issuer
  });
});

describe('API keys', () => {
  const apiKey = newApiKey();
  it('are introspected (Bearer or the configured header), cached for cacheTtlMs, and map to a principal', async () => {
    const v = make(
      { mode: 'off' },
      {
        apiKeys: {
          header: 'x-api-key',
          introspect: { url: `${issuer.url}/introspect`, ...issuer.introspectionClient },
          cacheTtlMs: 1000,
        },
      },
    );
    issuer.active.set(apiKey, {
      sub: 'svc-reports',
      client_id: 'reports',
      scope: 'orders:read',
      aud: AUDIENCE,
      iss: ISSUER,
    });
    const p = await v.verifyRequest({ 'x-api-key': apiKey });
    expect(p).toMatchObject({ kind: 'api_key', sub: 'svc-reports', clientId: 'reports' });
    expect(p.scopes.has('orders:read')).toBe(true);
    await v.verifyRequest({ authorization: `Bearer ${apiKey}` });
    expect(issuer.counts.introspect).toBe(1);
    issuer.active.delete(apiKey);
    clock.advance(1000);
    await expect(v.verifyRequest({ 'x-api-key': apiKey })).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
    await expect(v.verifyRequest({ 'x-api-key': apiKey, authorization: 'Bearer x' })).rejects.toMatchObject({
      code: 'ERR_TOKEN_REQUEST_INVALID',
    });
  });

  it('are refused when API keys are not configured, or answered for another audience', async () => {
    const plain = make({ mode: 'off' });
    expect(await statusOf(plain, apiKey)).toBe(401);
    const v = make(
      { mode: 'off' },
      {
        apiKeys: { introspect: { url: `${issuer.url}/introspect`, ...issuer.introspectionClient } },
      },
    );
    issuer.active.set(apiKey, { sub: 's', client_id: 'c', aud: 'billing' });
    expect(await statusOf(v, apiKey)).toBe(401);
  });

  it('malformed keys (shape or checksum) never reach the issuer; a refused key is not asked about again for negativeCacheTtlMs', async () => {
    const v = make(
      { mode: 'off' },
      {
        apiKeys: {
          introspect: { url: `${issuer.url}/introspect`, ...issuer.introspectionClient },
          negativeCacheTtlMs: 5000,
        },
      },
    );
    const wrongChecksum = apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A');
    for (const garbage of [`${API_KEY_PREFIX}${'a'.repeat(40)}`, `${API_KEY_PREFIX}x`, wrongChecksum]) {
      for (let i = 0; i < 3; i += 1) expect(await statusOf(v, garbage)).toBe(401);
    }
    expect(issuer.counts.introspect).toBe(0);
    const unknown = newApiKey(); // well formed, inactive at the issuer
    for (let i = 0; i < 5; i += 1) expect(await statusOf(v, unknown)).toBe(401);
    expect(issuer.counts.introspect).toBe(1);
    // Once the TTL has passed it is asked about again, and a key that has become active is accepted.
    issuer.active.set(unknown, { sub: 's', client_id: 'c', aud: AUDIENCE });
    clock.advance(4999);
    expect(await statusOf(v, unknown)).toBe(401);
    clock.advance(1);
    expect(await statusOf(v, unknown)).toBe(200);
    expect(issuer.counts.introspect).toBe(2);
  });

  it('the API-key header carries API keys only: a valid JWT there is refused, also once it is cached', async () => {
    const v = make(
      { mode: 'off' },
      { apiKeys: { introspect: { url: `${issuer.url}/introspect`, ...issuer.introspectionClient } } },
    );
    const jwt = mint(key, sec(clock));
    expect((await v.verifyRequest({ authorization: `Bearer ${jwt}` })).kind).toBe('jwt');
    await expect(v.verifyRequest({ 'x-api-key': jwt })).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
    expect(() => v.cachedPrincipal?.({ 'x-api-key': jwt })).toThrow(
      expect.objectContaining({ code: 'ERR_TOKEN_INVALID' }),
    );
    expect(issuer.counts.introspect).toBe(0);
  });

  it('an unreachable issuer is not remembered as a refusal (503, asked again next time)', async () => {
    const v = make(
      { mode: 'off' },
      { apiKeys: { introspect: { url: `${issuer.url}/introspect`, ...issuer.introspectionClient } } },
    );
    const key = newApiKey();
    issuer.active.set(key, { sub: 's', client_id: 'c' });
    issuer.down = true;
    try {
      expect(await statusOf(v, key)).toBe(503);
    } finally {
      issuer.down = false;
    }
    expect(await statusOf(v, key)).toBe(200);
  });
});

describe('verified-token cache', () => {
  it('never serves an entry at or past exp, and holds at most maxEntries', async () => {
    const v = make({ mode: 'off' }, { cache: { maxEntries: 2 }, clockSkewSeconds: 0 });
    const token = mint(key, sec(clock), { exp: sec(clock) + 10 });
    expect(await statusOf(v, token)).toBe(200);
    clock.advance(9_999);
    expect(await statusOf(v, token)).toBe(200);
    clock.advance(1);
    expect(await statusOf(v, token)).toBe(401);
    for (let i = 0; i < 5; i += 1) expect(await statusOf(v, mint(key, sec(clock), { jti: `c${i}` }))).toBe(200);
  });

  it('serves only the exact token it remembered: a forgery carrying the same signature is a miss, then refused', async () => {
    const v = make({ mode: 'off' });
    await v.start();
    const token = mint(key, sec(clock), { jti: 'same-end' });
    const headers = { authorization: `Bearer ${token}` };
    const principal = await v.verifyRequest(headers);
    const [h, , signature] = token.split('.');
    const otherPayload = Buffer.from(JSON.stringify({ sub: 'mallory', aud: AUDIENCE, iss: ISSUER })).toString(
      'base64url',
    );
    const forged = { authorization: `Bearer ${h}.${otherPayload}.${signature}` };
    expect(v.cachedPrincipal?.(forged)).toBeUndefined();
    expect(await statusOf(v, `${h}.${otherPayload}.${signature}`)).toBe(401);
    expect(v.cachedPrincipal?.(headers)).toBe(principal); // the genuine entry is untouched
  });
});
