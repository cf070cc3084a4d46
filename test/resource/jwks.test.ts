import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { generateSigningKey } from '../../src/crypto/index.js';
import { bearerChallenge, createVerifier, type Verifier } from '../../src/resource/index.js';
import { AUDIENCE, ISSUER, jwksOf, mint, startFakeIssuer, type FakeIssuer } from './helpers.js';

const k1 = generateSigningKey('ES256', 'k1');
const k2 = generateSigningKey('EdDSA', 'k2');
const T0 = Date.parse('2026-06-01T00:00:00Z');
const now = (clock: ManualClock): number => Math.floor(clock.now() / 1000);

let issuer: FakeIssuer;
let clock: ManualClock;
let verifier: Verifier;
beforeAll(async () => {
  issuer = await startFakeIssuer();
});
afterAll(async () => {
  await issuer.close();
});
beforeEach(async () => {
  issuer.jwks = jwksOf(k1);
  issuer.jwksCacheControl = 'public, max-age=300';
  issuer.counts.jwks = 0;
  clock = new ManualClock(T0);
  verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { url: `${issuer.url}/jwks`, ca: issuer.ca },
    revocation: { mode: 'off' },
    clock,
  });
  await verifier.start();
});

const status = async (token: string): Promise<number> =>
  verifier.verifyToken(token).then(
    () => 200,
    (err: unknown) => bearerChallenge(err, 'r').status,
  );

describe('JWKS over HTTPS', () => {
  it('fetches once at start and serves from cache within max-age', async () => {
    expect(issuer.counts.jwks).toBe(1);
    for (let i = 0; i < 5; i += 1) expect(await status(mint(k1, now(clock), { jti: `j${i}` }))).toBe(200);
    expect(issuer.counts.jwks).toBe(1);
  });

  it('refetches when max-age has passed', async () => {
    clock.advance(301_000);
    expect(await status(mint(k1, now(clock)))).toBe(200);
    expect(issuer.counts.jwks).toBe(2);
  });

  it('an unknown kid triggers one refetch after the cooldown and finds a newly published key', async () => {
    issuer.jwks = jwksOf(k1, k2);
    expect(await status(mint(k2, now(clock)))).toBe(401); // within the cooldown of the start fetch
    expect(issuer.counts.jwks).toBe(1);
    clock.advance(30_000);
    expect(await status(mint(k2, now(clock)))).toBe(200);
    expect(issuer.counts.jwks).toBe(2);
  });

  it('a flood of 100 unknown kids causes at most one fetch per cooldown', async () => {
    clock.advance(31_000);
    const flood = Array.from({ length: 100 }, (_, i) => mint(generateSigningKey('EdDSA', `ghost-${i}`), now(clock)));
    const results = await Promise.all(flood.map(status));
    expect(results.every((s) => s === 401)).toBe(true);
    expect(issuer.counts.jwks).toBe(2);
    for (const t of flood.slice(0, 10)) expect(await status(t)).toBe(401);
    expect(issuer.counts.jwks).toBe(2);
    clock.advance(30_000);
    expect(await status(flood[0] as string)).toBe(401);
    expect(issuer.counts.jwks).toBe(3);
  });

  it('a key rotated out of the JWKS stops verifying, even for tokens already cached', async () => {
    const token = mint(k1, now(clock));
    expect(await status(token)).toBe(200);
    issuer.jwks = jwksOf(k2);
    clock.advance(301_000);
    expect(await status(mint(k2, now(clock)))).toBe(200); // refreshes the set
    expect(await status(token)).toBe(401);
    expect(await status(mint(k1, now(clock)))).toBe(401);
  });

  it('keys without alg, with a mismatched alg, or duplicated kids are refused; the rest still work', async () => {
    const { alg: _drop, ...noAlg } = jwksOf(k2)[0] as Record<string, unknown>;
    issuer.jwks = [noAlg, { ...(jwksOf(k1)[0] as object), alg: 'RS256' }];
    clock.advance(301_000);
    expect(await status(mint(k1, now(clock)))).toBe(401);
    expect(await status(mint(k2, now(clock)))).toBe(401);
    issuer.jwks = [...jwksOf(k1), ...jwksOf(k1)];
    clock.advance(301_000);
    expect(await status(mint(k1, now(clock)))).toBe(401);
  });

  it('keeps the last good keys when the issuer is unreachable', async () => {
    await issuer.close();
    clock.advance(301_000);
    expect(await status(mint(k1, now(clock)))).toBe(200);
    issuer = await startFakeIssuer();
  });
});
