import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type Agent } from 'undici';
import type { RunningGatehouse } from '../../src/app/index.js';
import { MemoryLogger } from '../../src/core/index.js';
import { getJson, trustingAgent } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse } from '../support/up.js';

// Response bodies are walked freely in assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let running: RunningGatehouse;
let logger: MemoryLogger;
let agent: Agent;
let token: string;
const tmp = tempDir();

beforeAll(async () => {
  logger = new MemoryLogger();
  ({ running, adminToken: token } = await startTestGatehouse({
    dataDir: tmp.dir,
    demoMesh: true,
    logger,
    overrides: { kms: { maxBatchItems: 200 } },
  }));
  agent = trustingAgent(running.endpoints.trustBundle);
});

afterAll(async () => {
  await agent?.close();
  await running?.stop();
  tmp.remove();
});

const kms = (path: string, body?: unknown, method: 'GET' | 'POST' | 'DELETE' = 'POST', auth = true) =>
  getJson(agent, `${running.endpoints.kms}${path}`, {
    method,
    ...(auth ? { token } : {}),
    ...(body === undefined ? {} : { body }),
  }) as Promise<{ status: number; headers: Record<string, unknown>; body: Json }>;
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('KMS listener of gatehouse up', () => {
  it('is in endpoints.json, speaks TLS 1.3 with a CA certificate and is renewed by /v1/tls/renew', async () => {
    const endpoints = JSON.parse(readFileSync(join(tmp.dir, 'endpoints.json'), 'utf8'));
    expect(endpoints.kms).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(endpoints.kms).toBe(running.endpoints.kms);
    expect((await kms('/healthz', undefined, 'GET', false)).status).toBe(200);
    const renewed = await getJson(agent, `${running.endpoints.admin}/v1/tls/renew`, {
      method: 'POST',
      token,
      body: {},
    });
    expect((renewed.body as Array<{ listener: string }>).map((r) => r.listener)).toEqual(
      expect.arrayContaining(['admin', 'kms']),
    );
    expect((await kms('/healthz', undefined, 'GET', false)).status).toBe(200);
  });

  it('refuses calls without the admin token', async () => {
    const res = await kms('/v1/transit/keys', undefined, 'GET', false);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_KMS_UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('encrypts, decrypts, rewraps after rotation and raising min_decryption_version, and makes data keys', async () => {
    expect((await kms('/v1/transit/keys/orders', { type: 'aes256-gcm96' })).status).toBe(200);
    const items = Array.from({ length: 100 }, (_, i) => ({
      plaintext: Buffer.alloc(1024, i).toString('base64'),
      context: { row: String(i) },
      reference: `r${i}`,
    }));
    const enc = await kms('/v1/transit/encrypt/orders', { batch_input: items });
    expect(enc.status).toBe(200);
    const sealed = enc.body.data.batch_results as Array<{ ciphertext: string; key_version: number; reference: string }>;
    expect(sealed.map((s) => s.reference)).toEqual(items.map((i) => i.reference));
    expect(sealed.every((s) => s.ciphertext.startsWith('gh1:') && s.key_version === 1)).toBe(true);

    const dec = await kms('/v1/transit/decrypt/orders', {
      batch_input: sealed.map((s, i) => ({ ciphertext: s.ciphertext, context: { row: String(i) } })),
    });
    expect(dec.status).toBe(200);
    (dec.body.data.batch_results as Array<{ plaintext: string }>).forEach((r, i) =>
      expect(r.plaintext).toBe(items[i]?.plaintext),
    );

    const wrongContext = await kms('/v1/transit/decrypt/orders', {
      batch_input: [
        { ciphertext: sealed[0]?.ciphertext, context: { row: '0' } },
        { ciphertext: sealed[1]?.ciphertext, context: { row: 'x' } },
      ],
    });
    expect(wrongContext.status).toBe(400);
    expect(wrongContext.body.data.batch_results[1].error.code).toBe('ERR_KMS_DECRYPT_FAILED');

    expect((await kms('/v1/transit/keys/orders/rotate', {})).body.data.latest_version).toBe(2);
    const rewrapped = await kms('/v1/transit/rewrap/orders', {
      ciphertext: sealed[5]?.ciphertext,
      context: { row: '5' },
    });
    expect(rewrapped.body.data.key_version).toBe(2);
    expect((await kms('/v1/transit/keys/orders/config', { min_decryption_version: 2 })).status).toBe(200);
    const old = await kms('/v1/transit/decrypt/orders', { ciphertext: sealed[5]?.ciphertext, context: { row: '5' } });
    expect(old.status).toBe(400);
    const fresh = await kms('/v1/transit/decrypt/orders', {
      ciphertext: rewrapped.body.data.ciphertext,
      context: { row: '5' },
    });
    expect(fresh.body.data.plaintext).toBe(items[5]?.plaintext);

    const dk = await kms('/v1/transit/datakey/plaintext/orders', { context: { purpose: 'files' } });
    expect(Buffer.from(dk.body.data.plaintext, 'base64')).toHaveLength(32);
    const unwrapped = await kms('/v1/transit/decrypt/orders', {
      ciphertext: dk.body.data.ciphertext,
      context: { purpose: 'files' },
    });
    expect(unwrapped.body.data.plaintext).toBe(dk.body.data.plaintext);
    const wrapped = await kms('/v1/transit/datakey/wrapped/orders', {});
    expect(wrapped.body.data.plaintext).toBeUndefined();
    expect(wrapped.body.data.key_version).toBe(2);

    await kms('/v1/transit/keys/other', {});
    const mismatch = await kms('/v1/transit/decrypt/other', { ciphertext: rewrapped.body.data.ciphertext });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.code).toBe('ERR_KMS_KEY_MISMATCH');
    const garbage = await kms('/v1/transit/decrypt/orders', { ciphertext: 'gh1:AAAA' });
    expect(garbage.body.code).toBe('ERR_KMS_DECRYPT_FAILED');
    const unknown = await kms('/v1/transit/encrypt/none', { plaintext: b64('x') });
    expect(unknown.status).toBe(404);
    expect(
      (await kms('/v1/transit/encrypt/orders', { batch_input: [...items, ...items, { plaintext: '' }] })).status,
    ).toBe(413);

    const keys = await kms('/v1/transit/keys', undefined, 'GET');
    expect(keys.body.data.keys).toEqual(['orders', 'other']);

    const audit = logger.lines.filter((l) => l.audit === true && l.component === 'kms');
    expect(audit.find((l) => l.operation === 'transit.encrypt')).toMatchObject({
      principal: 'admin-token',
      key_name: 'orders',
      versions: [1],
      batch_size: 100,
      result: 'ok',
      context_keys: ['row'],
    });
    const text = JSON.stringify(logger.lines);
    for (const secret of [items[3]?.plaintext, sealed[3]?.ciphertext, dk.body.data.plaintext]) {
      expect(text).not.toContain(String(secret).slice(4, 40));
    }
  });

  it('streams on the admin listener: verify refuses a changed byte and decrypt aborts instead of ending', async () => {
    await kms('/v1/transit/keys/files', {});
    const admin = (path: string, body: Buffer) =>
      request(`${running.endpoints.admin}${path}`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body,
      });
    const plain = Buffer.alloc(200 * 1024, 9);
    const enc = await admin('/v1/kms/stream/encrypt?key=files&context=a%3Db', plain);
    expect(enc.statusCode).toBe(200);
    const cipher = Buffer.from(await enc.body.arrayBuffer());
    const ok = await admin('/v1/kms/stream/decrypt?context=a%3Db', cipher);
    expect(Buffer.from(await ok.body.arrayBuffer()).equals(plain)).toBe(true);
    const good = await admin('/v1/kms/stream/verify?context=a%3Db', cipher);
    expect(((await good.body.json()) as Json).data).toEqual({ key_name: 'files', key_version: 1 });
    // a __proto__ pair is bound like any other (it used to vanish, leaving a ciphertext bound to no context)
    const small = Buffer.from('tenant A data'); // small: a refusal answered early must not cut an upload short
    const proto = await admin('/v1/kms/stream/encrypt?key=files&context=__proto__%3DtenantA', small);
    expect(proto.statusCode).toBe(200);
    const protoCipher = Buffer.from(await proto.body.arrayBuffer());
    const unbound = await admin('/v1/kms/stream/verify', protoCipher);
    expect([unbound.statusCode, ((await unbound.body.json()) as Json).code]).toEqual([400, 'ERR_KMS_DECRYPT_FAILED']);
    const bound = await admin('/v1/kms/stream/decrypt?context=__proto__%3DtenantA', protoCipher);
    expect(Buffer.from(await bound.body.arrayBuffer()).equals(small)).toBe(true);

    const flipped = Buffer.from(cipher);
    flipped[cipher.length - 3] = (flipped[cipher.length - 3] ?? 0) ^ 1;
    const bad = await admin('/v1/kms/stream/verify?context=a%3Db', flipped);
    expect(bad.statusCode).toBe(400);
    expect(((await bad.body.json()) as Json).code).toBe('ERR_KMS_DECRYPT_FAILED');
    const aborted = await admin('/v1/kms/stream/decrypt?context=a%3Db', flipped);
    expect(aborted.statusCode).toBe(200);
    await expect(aborted.body.arrayBuffer()).rejects.toThrow();
    const wrongKey = await admin('/v1/kms/stream/encrypt?key=missing', plain);
    expect(wrongKey.statusCode).toBe(404);
    await wrongKey.body.dump();
    const anonymous = await request(`${running.endpoints.admin}/v1/kms/stream/verify`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/octet-stream' },
      body: cipher,
    });
    expect(anonymous.statusCode).toBe(401);
    await anonymous.body.dump();
    const streamAudit = logger.lines.filter((l) => l.audit === true && String(l.operation).startsWith('stream.'));
    expect(streamAudit.map((l) => [l.operation, l.result])).toEqual([
      ['stream.encrypt', 'ok'],
      ['stream.decrypt', 'ok'],
      ['stream.verify', 'ok'],
      ['stream.encrypt', 'ok'],
      ['stream.verify', 'ERR_KMS_DECRYPT_FAILED'],
      ['stream.decrypt', 'ok'],
      ['stream.verify', 'ERR_KMS_DECRYPT_FAILED'],
      ['stream.decrypt', 'ERR_KMS_DECRYPT_FAILED'],
      ['stream.encrypt', 'ERR_KMS_KEY_NOT_FOUND'],
    ]);
  });
});
