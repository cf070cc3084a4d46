import { existsSync, readFileSync } from 'node:fs';
import type { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningGatehouse } from '../../src/app/index.js';
import { AdminToken } from '../../src/app/admin_token.js';
import { MemoryLogger } from '../../src/core/index.js';
import { callJson, trustingAgent } from '../support/https.js';
import { upReplicas } from '../support/replicas.js';

/**
 * Two `gatehouse up` replicas on one PostgreSQL schema share one admin token: the second one's first start keeps the
 * token the first one made (it used to replace it, locking the first replica's admin CLI out at its next start), and
 * `admin rotate-token` on one replica ends the old token on the other (it used to work there until a restart). An API
 * key made through one replica works at the other's first request (its index used to reload only when a request found
 * it stale, refusing that request).
 */
const API_KEY_REFRESH_MS = 100;

describe('gatehouse up replicas on one PostgreSQL share the admin token and API keys', { timeout: 120_000 }, () => {
  const replicas = upReplicas('gh-upadm-');
  let agent: Agent;
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  const bLog = new MemoryLogger();

  const start = async (name: string, logger = new MemoryLogger()) => {
    const up = await replicas.start(name, {
      overrides: { identity: { apiKeys: { refreshEvery: `${API_KEY_REFRESH_MS}ms` } } },
      logger,
    });
    return up.running;
  };
  const status = async (at: RunningGatehouse, token: string) => {
    const answer = await callJson(agent, `${at.endpoints.admin}/v1/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: answer.status, code: (answer.body as { code?: string }).code };
  };

  beforeAll(async () => {
    await replicas.open();
    a = await start('a');
    b = await start('b', bLog);
    agent = trustingAgent(a.endpoints.trustBundle);
  });

  afterAll(async () => {
    await agent?.close();
    await replicas.close();
  });

  it('a replica joining initialized storage keeps the shared token and says how to get a copy of it', async () => {
    const tokenA = readFileSync(a.paths.adminToken, 'utf8').trim();
    expect(await AdminToken.fileMatches(a.core.records, a.paths.adminToken)).toBe(true);
    expect(existsSync(b.paths.adminToken)).toBe(false);
    expect(bLog.lines.some((l) => String(l['msg']).includes('copy admin.token from a replica'))).toBe(true);
    expect(await status(a, tokenA)).toEqual({ status: 200, code: undefined });
    expect(await status(b, tokenA)).toEqual({ status: 200, code: undefined });
  });

  it('admin rotate-token through one replica ends the old token on the other', async () => {
    const old = readFileSync(a.paths.adminToken, 'utf8').trim();
    const rotated = await callJson(agent, `${a.endpoints.admin}/v1/admin/rotate-token`, {
      headers: { authorization: `Bearer ${old}` },
      json: {},
    });
    expect(rotated.status).toBe(200);
    const fresh = readFileSync(a.paths.adminToken, 'utf8').trim();
    expect(fresh).not.toBe(old);
    expect(await status(a, old)).toEqual({ status: 401, code: 'ERR_ADMIN_UNAUTHORIZED' });
    // B re-reads the shared digest periodically: wait until it has.
    await vi.waitFor(async () => expect((await status(b, old)).status).toBe(401), { timeout: 30_000, interval: 250 });
    expect(await status(b, old)).toEqual({ status: 401, code: 'ERR_ADMIN_UNAUTHORIZED' });
    expect(await status(b, fresh)).toEqual({ status: 200, code: undefined });
  });

  it('an API key made through one replica is accepted by the other at its first request', async () => {
    const token = readFileSync(a.paths.adminToken, 'utf8').trim();
    const auth = { authorization: `Bearer ${token}` };
    const key = await callJson(agent, `${a.endpoints.admin}/v1/kms/keys`, { headers: auth, json: { name: 'shared' } });
    expect(key.status).toBe(201);
    const made = await callJson(agent, `${a.endpoints.admin}/v1/identity/api-keys`, {
      headers: auth,
      json: { name: 'replica-test', scope: 'kms:encrypt:shared' },
    });
    expect(made.status).toBe(201);
    // B gets no request meanwhile: only its timer can load the new key (many times over in this wait).
    await new Promise((resolve) => setTimeout(resolve, 20 * API_KEY_REFRESH_MS));
    const encrypted = await callJson(agent, `${b.endpoints.kms}/v1/transit/encrypt/shared`, {
      headers: { 'x-api-key': (made.body as { key: string }).key },
      json: { plaintext: Buffer.from('shared').toString('base64') },
    });
    expect(encrypted.status, JSON.stringify(encrypted.body)).toBe(200);
    expect((encrypted.body as { data: { ciphertext: string } }).data.ciphertext).toMatch(/^gh1:/);
  });
});
