import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import { adminTokenOnly, registerKmsRoutes } from '../../src/http/index.js';
import { registerKmsStreamRoutes } from '../../src/http/kms_stream_routes.js';
import { FakeKms, closeTestListeners, fakeAuthorizer, testListener } from './fake_kms.js';

// Response bodies are walked freely in assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

afterEach(closeTestListeners);

function setup() {
  const logger = new MemoryLogger();
  const kms = new FakeKms();
  const server = testListener('kms', logger);
  registerKmsRoutes(server.app, { ops: kms, authorizer: fakeAuthorizer, logger, maxBatchItems: 100 });
  registerKmsStreamRoutes(server.app, {
    ops: kms,
    checkToken: adminTokenOnly((token) => token === 'admin-token'),
    logger,
  });
  const call = async (url: string, body: unknown, token = 'good') => {
    const response = await server.app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${token}` },
      payload: body as object,
    });
    return { status: response.statusCode, body: response.json() as Record<string, Json> };
  };
  const stream = async (url: string) => {
    const response = await server.app.inject({
      method: 'POST',
      url,
      headers: { authorization: 'Bearer admin-token', 'content-type': 'application/octet-stream' },
      payload: Buffer.from('data'),
    });
    return { status: response.statusCode, body: response.body };
  };
  return { call, stream, kms };
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

// Fields a caller relies on were dropped silently: Vault's `associated_data` (the data was then bound to no
// associated data at all), `key_version` on encrypt or rewrap (the latest version was used), `bits: 128` on a data
// key (32 bytes came back), and `wrapped_only: "yes"` on the admin data-key call (the plaintext key came back).
describe('KMS request fields', () => {
  it('refuses associated_data, key_version and unknown item fields with a typed 400 that says what to use', async () => {
    const { call } = setup();
    const aad = await call('/v1/transit/encrypt/orders', { plaintext: b64('x'), associated_data: b64('tenant') });
    expect(aad.status).toBe(400);
    expect(aad.body.code).toBe('ERR_HTTP_BAD_REQUEST');
    expect(aad.body.title).toContain('"associated_data"');
    expect(aad.body.title).toContain('context');
    const version = await call('/v1/transit/encrypt/orders', { plaintext: b64('x'), key_version: 1 });
    expect(version.status).toBe(400);
    expect(version.body.title).toContain('"key_version"');
    const sealed = await call('/v1/transit/encrypt/orders', { plaintext: b64('x') });
    expect(sealed.status).toBe(200);
    const ciphertext = sealed.body.data.ciphertext as string;
    for (const op of ['decrypt', 'rewrap']) {
      const res = await call(`/v1/transit/${op}/orders`, { ciphertext, key_version: 2 });
      expect(res.status).toBe(400);
      expect(res.body.title).toContain('"key_version"');
      expect((await call(`/v1/transit/${op}/orders`, { ciphertext, reference: 'r' })).status).toBe(200);
    }
    const typo = await call('/v1/transit/encrypt/orders', { plaintext: b64('x'), contxt: { t: 'a' } });
    expect(typo.status).toBe(400);
    expect(typo.body.title).toContain('"contxt"');
  });

  it('fails only the batch item with an unknown field, and refuses unknown fields beside batch_input', async () => {
    const { call } = setup();
    const res = await call('/v1/transit/encrypt/orders', {
      batch_input: [
        { plaintext: b64('a'), reference: 'ok' },
        { plaintext: b64('b'), associated_data: b64('x'), reference: 'bad' },
      ],
      partial_failure_response_code: 207,
    });
    expect(res.status).toBe(207);
    expect(res.body.data.batch_results[0].ciphertext).toBeTypeOf('string');
    expect(res.body.data.batch_results[1]).toMatchObject({
      error: { code: 'ERR_HTTP_BAD_REQUEST' },
      reference: 'bad',
    });
    const beside = await call('/v1/transit/encrypt/orders', {
      batch_input: [{ plaintext: b64('a') }],
      context: { tenant: 'acme' },
    });
    expect(beside.status).toBe(400);
    expect(beside.body.title).toContain('"context"');
  });

  it('refuses bits on a transit data key instead of returning 256 bits', async () => {
    const { call } = setup();
    const res = await call('/v1/transit/datakey/plaintext/orders', { bits: 128 });
    expect(res.status).toBe(400);
    expect(res.body.title).toContain('"bits"');
    expect(res.body.data).toBeUndefined();
    const notObject = await call('/v1/transit/datakey/wrapped/orders', [1]);
    expect(notObject.status).toBe(400);
    expect(notObject.body.title).toBe('Invalid request: body: expected a JSON object');
    expect((await call('/v1/transit/datakey/wrapped/orders', { context: { a: 'b' } })).status).toBe(200);
  });

  it('admin data key: a wrapped_only that is not a boolean is refused, never read as "with plaintext"', async () => {
    const { call } = setup();
    const yes = await call('/v1/kms/datakey', { key: 'orders', wrapped_only: 'yes' }, 'admin-token');
    expect(yes.status).toBe(400);
    expect(yes.body.code).toBe('ERR_HTTP_BAD_REQUEST');
    expect(yes.body.data).toBeUndefined();
    const bits = await call('/v1/kms/datakey', { key: 'orders', bits: 128 }, 'admin-token');
    expect(bits.status).toBe(400);
    const wrapped = await call('/v1/kms/datakey', { key: 'orders', wrapped_only: true }, 'admin-token');
    expect(wrapped.status).toBe(200);
    expect(wrapped.body.data.plaintext).toBeUndefined();
  });

  it('stream calls refuse query parameters they do not define', async () => {
    const { stream } = setup();
    const res = await stream('/v1/kms/stream/encrypt?key=orders&segment_size=1024');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).title).toContain('"segment_size"');
    expect((await stream('/v1/kms/stream/verify?context=a%3Db&key=orders')).status).toBe(400);
    expect((await stream('/v1/kms/stream/encrypt?key=orders&context=a%3Db')).status).toBe(200);
    expect((await stream('/v1/kms/stream/verify?context=a%3Db')).status).toBe(200);
  });
});
