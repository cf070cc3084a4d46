import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandaloneComponent, type RunningComponent } from '../../src/app/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { newKeyAndCsr } from '../../src/mesh/index.js';
import { bundleAgent, callJson } from '../support/https.js';
import { freshPostgresSchema, type FreshPostgresSchema } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse, type TestGatehouse } from '../support/up.js';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) throw new Error('REDIS_URL must be set (e.g. redis://127.0.0.1:6379): the replica tests never skip');

/**
 * Two CA replicas (`gatehouse ca --config FILE`, started alone in process) on one PostgreSQL schema and one Redis key
 * prefix, initialized by a `gatehouse up` that stays as the admin node: `pki.limits` are counted in Redis, so one
 * address's enrollment budget is one budget, whichever replica its requests reach.
 */
describe('CA limits on Redis shared by two CA replicas', { timeout: 120_000 }, () => {
  const tmp = tempDir('gh-ca-replicas-');
  const prefix = `t_${randomBytes(6).toString('hex')}:`;
  const agents: Agent[] = [];
  const loggers = [new MemoryLogger(), new MemoryLogger()];
  let pg: FreshPostgresSchema;
  let admin: TestGatehouse;
  let replicas: RunningComponent[] = [];

  beforeAll(async () => {
    pg = await freshPostgresSchema();
    admin = await startTestGatehouse({
      dataDir: join(tmp.dir, 'data'),
      overrides: {
        storage: { kind: 'postgres', postgres: { url: pg.url, schema: pg.schema } },
        redis: { url: REDIS_URL, keyPrefix: prefix },
        // burst 3: four enrollments at once per address, then one an hour (no refill while the test runs).
        pki: { limits: { signPerAddress: { rate: 1, period: '1h', burst: 3 } } },
      },
    });
    for (const logger of loggers) {
      replicas.push(
        await startStandaloneComponent({
          component: 'ca',
          config: admin.config,
          rootKey: {},
          clock: systemClock,
          logger,
        }),
      );
    }
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    for (const replica of replicas) await replica.stop();
    replicas = [];
    await admin?.stop();
    await pg?.drop();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    tmp.remove();
  });

  const spiffeId = (sa: string) => `spiffe://${admin.running.endpoints.trustDomain}/ns/prod/sa/${sa}`;
  const joinToken = async (sa: string): Promise<string> => {
    const agent = bundleAgent(admin.bundlePem);
    agents.push(agent);
    const made = await callJson(agent, `${admin.running.endpoints.admin}/v1/ca/join-tokens`, {
      headers: { authorization: `Bearer ${admin.adminToken}` },
      json: { spiffe_id: spiffeId(sa) },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    return made.body.token as string;
  };
  /** POST /v1/ca/sign at `replica` from the loopback address `from`. */
  const sign = async (replica: RunningComponent, from: string, token: string) => {
    const agent = new Agent({ localAddress: from, connect: { ca: admin.bundlePem, minVersion: 'TLSv1.3' } });
    agents.push(agent);
    const { csrPem } = await newKeyAndCsr();
    return callJson(agent, `${replica.url}/v1/ca/sign`, { json: { csr: csrPem, join_token: token } });
  };

  it('refuses with 429 ERR_PKI_RATE_LIMITED once the combined budget of one address is spent across both replicas', async () => {
    const [a, b] = replicas as [RunningComponent, RunningComponent];
    expect(a.url).not.toBe(b.url);
    const from = '127.0.0.2';
    // Two at each replica: each alone would still have budget left (a burst of 3 admits four at once).
    for (const [n, replica] of [a, b, a, b].entries()) {
      const signed = await sign(replica, from, await joinToken(`r${n}`));
      expect(signed.status, JSON.stringify(signed.body)).toBe(200);
      expect(signed.body.spiffe_id).toBe(spiffeId(`r${n}`));
    }
    const kept = await joinToken('kept');
    for (const [replica, logger] of [
      [a, loggers[0]],
      [b, loggers[1]],
    ] as const) {
      const refused = await sign(replica, from, kept);
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ status: 429, code: 'ERR_PKI_RATE_LIMITED' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const refusals = logger!.lines.filter((l) => l.msg === 'CA sign refused');
      expect(refusals.at(-1)).toMatchObject({
        code: 'ERR_PKI_RATE_LIMITED',
        reason: 'limit sign_per_address',
        remote: from,
      });
    }
    // Another address has a budget of its own, and the refused requests did not use the token up.
    const elsewhere = await sign(b, '127.0.0.3', kept);
    expect(elsewhere.status, JSON.stringify(elsewhere.body)).toBe(200);
    expect(elsewhere.body.spiffe_id).toBe(spiffeId('kept'));
  });
});
