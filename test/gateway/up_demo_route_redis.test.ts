import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { request, type Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningGatehouse } from '../../src/app/index.js';
import { withDemoRoute } from '../../src/app/gateway_demo.js';
import { loadConfig } from '../../src/config/index.js';
import { callJson, trustingAgent } from '../support/https.js';
import { upReplicas } from '../support/replicas.js';

const DEMO_URL = 'http://127.0.0.1:9';
const limitsOf = (redis: boolean) =>
  withDemoRoute(loadConfig({}).gateway, DEMO_URL, { redis })
    .routes.find((r) => r.name === 'demo')
    ?.limits.map((l) => [l.name, l.tier, l.rate, l.per, l.burst]);

describe('the demo route of gatehouse up', () => {
  it('limits per key in process without Redis; with Redis globally, with the same limit in process in front', () => {
    expect(limitsOf(false)).toEqual([['per-key', 'local', 1000, 1000, 100]]);
    expect(limitsOf(true)).toEqual([
      ['per-key', 'global', 1000, 1000, 100],
      ['per-key-local', 'local', 1000, 1000, 100],
    ]);
  });
});

/**
 * Two `gatehouse up` replicas on one PostgreSQL schema and one Redis key prefix: the demo route's per-key limit is
 * counted in Redis, once for both (each replica used to admit its own 1000 req/s per key).
 */
describe('gatehouse up replicas sharing Redis share the demo route limit', { timeout: 120_000 }, () => {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL must be set (e.g. redis://127.0.0.1:6379): this test never skips');
  const prefix = `t_${randomBytes(6).toString('hex')}:`;
  const replicas = upReplicas('gh-demo-redis-');
  const redis = new Redis(redisUrl);
  let agent: Agent;
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  let apiKey: string;

  const demo = async (at: RunningGatehouse) => {
    const res = await request(`${at.endpoints.gateway}/demo/hello`, {
      dispatcher: agent,
      headers: { 'x-api-key': apiKey },
    });
    await res.body.dump();
    return { status: res.statusCode, policy: res.headers['ratelimit-policy'], rateLimit: res.headers['ratelimit'] };
  };
  /** The Redis counter of the demo route's global limit for the test's API key (a TAT in µs). */
  let counter: string;

  beforeAll(async () => {
    await replicas.open();
    const overrides = {
      redis: { url: redisUrl, keyPrefix: prefix },
      identity: { apiKeys: { refreshEvery: '100ms' } },
    };
    a = (await replicas.start('a', { overrides })).running;
    b = (await replicas.start('b', { overrides })).running;
    agent = trustingAgent(a.endpoints.trustBundle);
    const token = readFileSync(a.paths.adminToken, 'utf8').trim();
    const made = await callJson(agent, `${a.endpoints.admin}/v1/identity/api-keys`, {
      headers: { authorization: `Bearer ${token}` },
      json: { name: 'demo-caller', scope: 'demo' },
    });
    expect(made.status).toBe(201);
    apiKey = (made.body as { key: string }).key;
    counter = `${prefix}gw:demo/per-key@1000:1000:100/api_key=${(made.body as { id: string }).id}`;
  });

  afterAll(async () => {
    await agent?.close();
    await replicas.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('both replicas count the key in one Redis counter, and refuse it once that counter is over the limit', async () => {
    // B loads the new API key by its refresh timer; requests it refuses (401) are counted nowhere.
    await vi.waitFor(async () => expect((await demo(b)).status).toBe(200), { timeout: 30_000, interval: 100 });
    // A counter set to a time long past admits; a request counted in it rewrites it (or it expired since, its TAT
    // passed): either way it no longer holds the mark. Without the global tier it would.
    for (const at of [a, b]) {
      await redis.set(counter, '1');
      const admitted = await demo(at);
      expect(admitted.status).toBe(200);
      expect(admitted.policy).toBe('"per-key";q=1000;w=1, "per-key-local";q=1000;w=1');
      expect(await redis.get(counter)).not.toBe('1');
    }
    // The counter an hour over the limit: both replicas refuse the key, though neither saw it over its limit in
    // process (their local tier admits it).
    const redisNowUs = Number((await redis.time())[0]) * 1_000_000;
    await redis.set(counter, String(redisNowUs + 3_600_000_000), 'PX', 3_600_000);
    for (const at of [a, b]) {
      const refused = await demo(at);
      expect(refused.status).toBe(429);
      expect(refused.rateLimit).toMatch(/^"per-key";r=0;t=\d+$/);
    }
  });
});
