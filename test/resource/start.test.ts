import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { generateSigningKey } from '../../src/crypto/index.js';
import { bearerChallenge, createVerifier, type Verifier } from '../../src/resource/index.js';
import { AUDIENCE, ISSUER, jwksOf, mint, startFakeIssuer, type FakeIssuer } from './helpers.js';

const key = generateSigningKey('ES256', 'k1');
const T0 = Date.parse('2026-06-01T00:00:00Z');

let issuer: FakeIssuer;
beforeAll(async () => {
  issuer = await startFakeIssuer();
  issuer.jwks = jwksOf(key);
});
afterAll(async () => {
  await issuer.close();
});

const statusOf = (v: Verifier, token: string): Promise<number> =>
  v.verifyToken(token).then(
    () => 200,
    (err: unknown) => bearerChallenge(err, 'r').status,
  );

describe('start() while the issuer is down', () => {
  it('rejects with a typed error, and a later start() (the usual retry loop) loads the keys and the feed', async () => {
    const clock = new ManualClock(T0);
    const v = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: { url: `${issuer.url}/jwks`, ca: issuer.ca },
      revocation: { mode: 'poll', feedUrl: `${issuer.url}/revocations`, credentials: async () => issuer.feedToken },
      clock,
      fetchTimeoutMs: 2000,
    });
    try {
      issuer.down = true;
      await expect(v.start()).rejects.toMatchObject({ code: 'ERR_VERIFIER_UNAVAILABLE' });
      issuer.down = false;
      const feedReads = issuer.counts.revocations;
      await v.start();
      expect(issuer.counts.revocations).toBeGreaterThan(feedReads);
      expect(await statusOf(v, mint(key, Math.floor(clock.now() / 1000)))).toBe(200);
      await v.start(); // started: nothing more to do
    } finally {
      issuer.down = false;
      await v.close();
    }
  });

  it('a start({ requireFeed }) refused by the feed can be retried once the feed answers', async () => {
    const clock = new ManualClock(T0);
    let credential = 'wrong';
    const v = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: { keys: jwksOf(key) },
      tls: { ca: issuer.ca },
      revocation: { mode: 'poll', feedUrl: `${issuer.url}/revocations`, credentials: async () => credential },
      clock,
      fetchTimeoutMs: 2000,
    });
    try {
      await expect(v.start({ requireFeed: true })).rejects.toMatchObject({ code: 'ERR_VERIFIER_UNAVAILABLE' });
      expect(await statusOf(v, mint(key, Math.floor(clock.now() / 1000)))).toBe(503);
      credential = issuer.feedToken;
      await v.start({ requireFeed: true });
      expect(await statusOf(v, mint(key, Math.floor(clock.now() / 1000)))).toBe(200);
    } finally {
      await v.close();
    }
  });
});
