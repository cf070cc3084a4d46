import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryRecordStore, RedisRevocationBus } from '../../src/adapters/index.js';
import { ManualClock, MemoryLogger } from '../../src/core/index.js';
import type { IdentityRevocationItem } from '../../src/identity/index.js';
import { createVerifier } from '../../src/resource/index.js';
import { MapVault } from './harness.js';
import { basic, client, ISSUER, ORDERS, revocationHarness, tokenFor } from './revocation_harness.js';

const url = process.env.REDIS_URL;
if (!url) throw new Error('REDIS_URL must be set (e.g. redis://127.0.0.1:6379): the Redis fan-out tests never skip');
const redis = new Redis(url, { maxRetriesPerRequest: 1 });
afterAll(async () => {
  await redis.quit();
});

/** Waits (bounded) until `check` holds; no timing assertion, only a generous limit. */
async function until(check: () => boolean | Promise<boolean>, limitMs = 5000): Promise<boolean> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

describe('Redis pub/sub revocation fan-out', () => {
  it('publishes on <prefix>revocations; subscribers get well-formed items only', async () => {
    const keyPrefix = `test:${randomBytes(8).toString('hex')}:`;
    const logger = new MemoryLogger();
    const bus = new RedisRevocationBus({ redis, keyPrefix, logger });
    expect(bus.channel).toBe(`${keyPrefix}revocations`);
    const got: IdentityRevocationItem[] = [];
    const stop = await bus.subscribe((item) => got.push(item));
    await redis.publish(bus.channel, 'not json');
    await redis.publish(bus.channel, JSON.stringify({ jti: 'x' }));
    await bus.publish({ jti: 'a1', exp: 2_000_000_000 });
    await bus.publish({ key_id: 'k1', exp: 2_000_000_000 });
    expect(await until(() => got.length === 2)).toBe(true);
    expect(got).toEqual([
      { jti: 'a1', exp: 2_000_000_000 },
      { key_id: 'k1', exp: 2_000_000_000 },
    ]);
    expect(logger.lines.filter((l) => l['event'] === 'revocation_bus_malformed')).toHaveLength(2);
    await stop();
  });

  it('a revocation at one replica reaches another replica and a subscribed verifier at once (no polling)', async () => {
    const keyPrefix = `test:${randomBytes(8).toString('hex')}:`;
    const logger = new MemoryLogger();
    const clock = new ManualClock(Date.now());
    const store = new MemoryRecordStore({ clock });
    const busA = new RedisRevocationBus({ redis, keyPrefix, logger });
    const busB = new RedisRevocationBus({ redis, keyPrefix, logger });
    // refreshEvery of an hour: replica B can only learn by push
    const vault = new MapVault();
    const a = await revocationHarness({ revocation: { refreshEvery: '1h' } }, { clock, store, vault, bus: busA });
    const b = await revocationHarness({ revocation: { refreshEvery: '1h' } }, { clock, store, vault, bus: busB });
    try {
      const owner = await client(a, 'owner');
      const rs = await client(b, 'rs', { audiences: [ORDERS], roles: ['resource-server'] });
      const token = await tokenFor(a, owner);
      const verifier = createVerifier({
        issuer: ISSUER,
        audience: ORDERS,
        jwks: { keys: (JSON.parse(a.identity.signingKeys.jwksJson()) as { keys: unknown[] }).keys },
        revocation: {
          mode: 'off',
          subscribe: (onItem) => new RedisRevocationBus({ redis, keyPrefix, logger }).subscribe(onItem),
        },
        clock,
        logger,
      });
      await verifier.start();
      expect((await verifier.verifyToken(token)).clientId).toBe(owner.clientId);
      await b.identity.signingKeys.refresh();
      const introspect = () => b.post('/oauth2/introspect', { token }, basic(rs.clientId, rs.secret));
      expect((await introspect()).json['active']).toBe(true);

      expect((await a.post('/oauth2/revoke', { token }, basic(owner.clientId, owner.secret))).status).toBe(200);
      expect(await until(async () => (await introspect()).body === '{"active":false}')).toBe(true);
      expect(
        await until(() =>
          verifier.verifyToken(token).then(
            () => false,
            () => true,
          ),
        ),
      ).toBe(true);
      await verifier.close();
    } finally {
      await a.close();
      await b.close();
      await store.close();
    }
  });
});

describe('in-process revocation push', () => {
  it('RevocationList.subscribe feeds an embedded verifier in the same process at once, and unsubscribes', async () => {
    const h = await revocationHarness();
    try {
      const owner = await client(h, 'owner');
      const token = await tokenFor(h, owner);
      const second = await tokenFor(h, owner);
      const verifier = createVerifier({
        issuer: ISSUER,
        audience: ORDERS,
        jwks: { keys: (JSON.parse(h.identity.signingKeys.jwksJson()) as { keys: unknown[] }).keys },
        revocation: { mode: 'off', subscribe: (onItem) => h.identity.revocations.subscribe(onItem) },
        clock: h.clock,
      });
      await verifier.start();
      expect((await verifier.verifyToken(token)).clientId).toBe(owner.clientId);
      await h.post('/oauth2/revoke', { token }, basic(owner.clientId, owner.secret));
      await expect(verifier.verifyToken(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
      await verifier.close();
      await h.post('/oauth2/revoke', { token: second }, basic(owner.clientId, owner.secret));
      expect((await verifier.verifyToken(second)).clientId).toBe(owner.clientId); // unsubscribed: no longer told
    } finally {
      await h.close();
    }
  });
});
