import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import { registerKmsRoutes } from '../../src/http/index.js';
import { FakeKms, closeTestListeners, fakeAuthorizer, testListener } from './fake_kms.js';

// Response bodies are walked freely in assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

afterEach(closeTestListeners);

function setup(options: { maxBatchItems?: number; bodyLimit?: number } = {}) {
  const logger = new MemoryLogger();
  const kms = new FakeKms();
  const server = testListener('kms', logger, { bodyLimit: options.bodyLimit ?? 1048576 });
  registerKmsRoutes(server.app, {
    ops: kms,
    authorizer: fakeAuthorizer,
    logger,
    maxBatchItems: options.maxBatchItems ?? 1000,
  });
  const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, token = 'good') => {
    const response = await server.app.inject({
      method,
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: response.statusCode, headers: response.headers, body: response.json() as Record<string, Json> };
  };
  return { call, kms, logger };
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('transit routes', () => {
  it('encrypts and decrypts one item, with context, in Vault shapes', async () => {
    const { call } = setup();
    const enc = await call('POST', '/v1/transit/encrypt/orders', { plaintext: b64('hello'), context: { t: 'a' } });
    expect(enc.status).toBe(200);
    expect(enc.body.data.key_version).toBe(1);
    expect(enc.body.data.ciphertext).toMatch(/^fake:orders:v1:/);
    const dec = await call('POST', '/v1/transit/decrypt/orders', {
      ciphertext: enc.body.data.ciphertext,
      context: { t: 'a' },
    });
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.body.data.plaintext, 'base64').toString()).toBe('hello');
    const wrong = await call('POST', '/v1/transit/decrypt/orders', {
      ciphertext: enc.body.data.ciphertext,
      context: { t: 'b' },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.code).toBe('ERR_KMS_DECRYPT_FAILED');
    expect(wrong.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('keeps batch order, echoes references and reports per-item errors with Vault status codes', async () => {
    const { call } = setup();
    const ok = await call('POST', '/v1/transit/encrypt/orders', {
      batch_input: [
        { plaintext: b64('one'), reference: 'r1' },
        { plaintext: b64('two'), context: { k: 'v' }, reference: 'r2' },
        { plaintext: b64('three') },
      ],
    });
    expect(ok.status).toBe(200);
    const results = ok.body.data.batch_results as Array<{ ciphertext: string; reference?: string }>;
    expect(results.map((r) => r.reference)).toEqual(['r1', 'r2', undefined]);
    const decrypted = await call('POST', '/v1/transit/decrypt/orders', {
      batch_input: [
        { ciphertext: results[2]?.ciphertext },
        { ciphertext: results[0]?.ciphertext, reference: 'x' },
        { ciphertext: results[1]?.ciphertext, context: { k: 'v' } },
      ],
    });
    expect(decrypted.status).toBe(200);
    const plain = (decrypted.body.data.batch_results as Array<{ plaintext: string }>).map((r) =>
      Buffer.from(r.plaintext, 'base64').toString(),
    );
    expect(plain).toEqual(['three', 'one', 'two']);

    const partial = await call('POST', '/v1/transit/encrypt/orders', {
      batch_input: [{ plaintext: b64('fine') }, { plaintext: 'not base64!', reference: 'bad' }, 'not an object'],
    });
    expect(partial.status).toBe(400);
    const items = partial.body.data.batch_results as Array<Record<string, Json>>;
    expect(items[0]?.ciphertext).toBeDefined();
    expect(items[1]).toMatchObject({ reference: 'bad', error: { code: 'ERR_HTTP_BAD_REQUEST' } });
    expect(items[1]?.error.message).toMatch(/plaintext/);
    expect(items[2]?.error.code).toBe('ERR_HTTP_BAD_REQUEST');

    const custom = await call('POST', '/v1/transit/encrypt/orders', {
      batch_input: [{ plaintext: b64('fine') }, { plaintext: 7 }],
      partial_failure_response_code: 207,
    });
    expect(custom.status).toBe(207);
    const allFailed = await call('POST', '/v1/transit/decrypt/orders', {
      batch_input: [{ ciphertext: 'fake:orders:v1:e30=' }, { ciphertext: 'junk' }],
      partial_failure_response_code: 207,
    });
    expect(allFailed.status).toBe(400);
    expect(allFailed.body.data.batch_results).toHaveLength(2);
  });

  it('refuses bad input with problem documents, never a 500', async () => {
    const { call } = setup({ maxBatchItems: 3 });
    const cases: Array<[unknown, string]> = [
      [{ plaintext: 'a b' }, 'ERR_HTTP_BAD_REQUEST'],
      [{ plaintext: b64('x'), context: 'tenant=a' }, 'ERR_HTTP_BAD_REQUEST'],
      [{ plaintext: b64('x'), context: { n: 1 } }, 'ERR_HTTP_BAD_REQUEST'],
      [{ plaintext: b64('x'), context: ['a'] }, 'ERR_HTTP_BAD_REQUEST'],
      [{ batch_input: [] }, 'ERR_HTTP_BAD_REQUEST'],
      [{ batch_input: 'x' }, 'ERR_HTTP_BAD_REQUEST'],
      [{ plaintext: b64('x'), partial_failure_response_code: 99 }, 'ERR_HTTP_BAD_REQUEST'],
      [[1, 2], 'ERR_HTTP_BAD_REQUEST'],
    ];
    for (const [body, code] of cases) {
      const res = await call('POST', '/v1/transit/encrypt/orders', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe(code);
    }
    const tooMany = await call('POST', '/v1/transit/encrypt/orders', {
      batch_input: Array.from({ length: 4 }, () => ({ plaintext: '' })),
    });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.code).toBe('ERR_KMS_BATCH_TOO_LARGE');
    const unknown = await call('POST', '/v1/transit/encrypt/nope', { plaintext: b64('x') });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('ERR_KMS_KEY_NOT_FOUND');
    const unknownBatch = await call('POST', '/v1/transit/encrypt/nope', { batch_input: [{ plaintext: b64('x') }] });
    expect(unknownBatch.status).toBe(404);
    const badName = await call('POST', '/v1/transit/encrypt/-bad', { plaintext: b64('x') });
    expect(badName.body.code).toBe('ERR_KMS_KEY_NAME_INVALID');
    const mismatch = await call('POST', '/v1/transit/decrypt/orders', { ciphertext: 'fake:other:v1:e30=' });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.code).toBe('ERR_KMS_KEY_MISMATCH');
  });

  it('checks a key name only after authorization: 401 first, and every call writes its one audit line', async () => {
    const { call, logger } = setup();
    const audited = () => logger.lines.filter((l) => l.audit === true);
    const calls: Array<['GET' | 'POST' | 'DELETE', string, unknown]> = [
      ['POST', '/v1/transit/encrypt/..bad', { plaintext: b64('x') }],
      ['POST', '/v1/transit/decrypt/-x', { ciphertext: 'fake:x:v1:e30=' }],
      ['POST', '/v1/transit/datakey/plaintext/..bad', {}],
      ['POST', '/v1/transit/keys/..bad', {}],
      ['GET', '/v1/transit/keys/-x', undefined],
      ['POST', '/v1/transit/keys/-x/rotate', {}],
    ];
    for (const [method, url, body] of calls) {
      const anonymous = await call(method, url, body, '');
      expect([anonymous.status, anonymous.body.code], url).toEqual([401, 'ERR_KMS_UNAUTHORIZED']);
      const forbidden = await call(method, url, body, 'enc-only');
      expect(forbidden.status, url).toBe(url.startsWith('/v1/transit/encrypt/') ? 400 : 403);
      const admin = await call(method, url, body);
      expect([admin.status, admin.body.code], url).toEqual([400, 'ERR_KMS_KEY_NAME_INVALID']);
    }
    const lines = audited();
    expect(lines).toHaveLength(calls.length * 3);
    expect(lines.filter((l) => l.result === 'ERR_KMS_UNAUTHORIZED')).toHaveLength(calls.length);
    expect(lines.filter((l) => l.principal === 'admin').map((l) => [l.key_name, l.result])).toEqual(
      calls.map(([, url]) => [/\/(\.\.bad|-x)/.exec(url)?.[1], 'ERR_KMS_KEY_NAME_INVALID']),
    );
  });

  it('limits the body size', async () => {
    const { call } = setup({ bodyLimit: 2048 });
    const res = await call('POST', '/v1/transit/encrypt/orders', { plaintext: b64('x'.repeat(4096)) });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('ERR_HTTP_PAYLOAD_TOO_LARGE');
  });

  it('denies by default: 401 without credentials, 403 without the permission', async () => {
    const { call } = setup();
    const anonymous = await call('POST', '/v1/transit/encrypt/orders', { plaintext: b64('x') }, '');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('ERR_KMS_UNAUTHORIZED');
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer realm=/);
    const wrong = await call('GET', '/v1/transit/keys', undefined, 'nope');
    expect(wrong.status).toBe(401);
    const enc = await call('POST', '/v1/transit/encrypt/orders', { plaintext: b64('x') }, 'enc-only');
    expect(enc.status).toBe(200);
    for (const [method, url] of [
      ['POST', '/v1/transit/decrypt/orders'],
      ['POST', '/v1/transit/rewrap/orders'],
      ['POST', '/v1/transit/datakey/plaintext/orders'],
      ['POST', '/v1/transit/datakey/wrapped/orders'],
      ['POST', '/v1/transit/keys/orders/rotate'],
      ['GET', '/v1/transit/keys'],
    ] as const) {
      const res = await call(
        method,
        url,
        method === 'POST' ? { ciphertext: enc.body.data.ciphertext } : undefined,
        'enc-only',
      );
      expect(res.status, url).toBe(403);
      expect(res.body.code).toBe('ERR_KMS_FORBIDDEN');
    }
  });

  it('manages keys and serves rewrap and data keys', async () => {
    const { call } = setup();
    expect((await call('POST', '/v1/transit/keys/billing', { type: 'chacha20-poly1305' })).body.data).toMatchObject({
      name: 'billing',
      type: 'chacha20-poly1305',
    });
    expect((await call('POST', '/v1/transit/keys/billing', {})).body.code).toBe('ERR_KMS_KEY_EXISTS');
    expect((await call('POST', '/v1/transit/keys/x', { type: 'rsa' })).status).toBe(400);
    expect((await call('GET', '/v1/transit/keys')).body.data.keys).toEqual(['orders', 'billing']);
    expect((await call('GET', '/v1/transit/keys/billing')).body.data.latest_version).toBe(1);
    expect((await call('GET', '/v1/transit/keys/none')).status).toBe(404);
    const old = await call('POST', '/v1/transit/encrypt/orders', { plaintext: b64('secret') });
    expect((await call('POST', '/v1/transit/keys/orders/rotate', {})).body.data.latest_version).toBe(2);
    const config = await call('POST', '/v1/transit/keys/orders/config', {
      min_decryption_version: 2,
      deletion_allowed: true,
    });
    expect(config.body.data).toMatchObject({ minDecryptionVersion: 2, deletionAllowed: true });
    expect((await call('POST', '/v1/transit/keys/orders/config', { min_decryption_version: 'x' })).status).toBe(400);
    expect((await call('POST', '/v1/transit/keys/orders/trim', { min_available_version: 2 })).status).toBe(200);
    expect((await call('POST', '/v1/transit/keys/orders/trim', {})).status).toBe(400);
    const rewrapped = await call('POST', '/v1/transit/rewrap/orders', {
      batch_input: [{ ciphertext: old.body.data.ciphertext, reference: 'a' }],
    });
    expect(rewrapped.body.data.batch_results[0]).toMatchObject({ key_version: 2, reference: 'a' });
    const plain = await call('POST', '/v1/transit/datakey/plaintext/orders', { context: { a: 'b' } });
    expect(plain.body.data).toMatchObject({ key_version: 2 });
    expect(Buffer.from(plain.body.data.plaintext, 'base64')).toHaveLength(32);
    const wrapped = await call('POST', '/v1/transit/datakey/wrapped/orders', {});
    expect(wrapped.body.data.plaintext).toBeUndefined();
    expect(wrapped.body.data.ciphertext).toMatch(/^fake:orders:v2:/);
    expect((await call('DELETE', '/v1/transit/keys/orders')).body.data.deleted).toBe(true);
    expect((await call('POST', '/v1/transit/encrypt/orders', { plaintext: b64('x') })).body.code).toBe(
      'ERR_KMS_KEY_DELETED',
    );
    expect((await call('POST', '/v1/transit/keys/orders/restore', {})).status).toBe(200);
  });

  it('turns a bug into a 500 problem without detail, not an item error', async () => {
    const { call, kms } = setup();
    kms.explode = true;
    const res = await call('POST', '/v1/transit/encrypt/orders', { batch_input: [{ plaintext: b64('x') }] });
    expect(res.status).toBe(500);
    expect(res.body.code).toBe('ERR_INTERNAL');
    expect(JSON.stringify(res.body)).not.toContain('boom');
  });

  it('audits every call with who, what, key, versions and result, and no secret', async () => {
    const { call, logger } = setup();
    const secret = 'top-secret-plaintext';
    const enc = await call('POST', '/v1/transit/encrypt/orders', {
      batch_input: [{ plaintext: b64(secret), context: { tenant: 'acme-secret-tenant' } }, { plaintext: 'bad!' }],
    });
    await call('POST', '/v1/transit/decrypt/orders', {
      ciphertext: enc.body.data.batch_results[0].ciphertext,
      context: { tenant: 'acme-secret-tenant' },
    });
    await call('POST', '/v1/transit/datakey/plaintext/orders', {});
    await call('POST', '/v1/transit/encrypt/orders', { plaintext: b64('x') }, '');
    const audit = logger.lines.filter((l) => l.audit === true);
    expect(audit).toHaveLength(4);
    expect(audit[0]).toMatchObject({
      principal: 'admin',
      operation: 'transit.encrypt',
      key_name: 'orders',
      versions: [1],
      result: 'partial',
      batch_size: 2,
      failed: 1,
      context_keys: ['tenant'],
    });
    expect(audit[1]).toMatchObject({ operation: 'transit.decrypt', result: 'ok', batch_size: 1 });
    expect(audit[2]).toMatchObject({ operation: 'transit.datakey.plaintext', result: 'ok', versions: [1] });
    expect(audit[3]).toMatchObject({ principal: 'anonymous', result: 'ERR_KMS_UNAUTHORIZED' });
    const text = JSON.stringify(logger.lines);
    for (const forbidden of [secret, b64(secret), 'acme-secret-tenant', 'fake:orders', b64('x'), 'BwcHBwcH']) {
      expect(text).not.toContain(forbidden);
    }
  });
});
