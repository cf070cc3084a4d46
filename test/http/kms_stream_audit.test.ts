import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import { ADMIN_TOKEN_CALL } from '../../src/http/index.js';
import { registerKmsStreamRoutes } from '../../src/http/kms_stream_routes.js';
import { FakeKms, closeTestListeners, testListener } from './fake_kms.js';

afterEach(closeTestListeners);

function setup() {
  const logger = new MemoryLogger();
  const server = testListener('admin', logger);
  registerKmsStreamRoutes(server.app, {
    ops: new FakeKms(),
    // The admin token, and an API key holding the `admin` scope, are both admitted by the admin API's check.
    checkToken: (token) =>
      token === 'admin-token' ? ADMIN_TOKEN_CALL : token === 'ghk_admin_scoped' ? { actor: 'api_key:ak_1' } : false,
    logger,
  });
  const post = async (url: string, token: string, payload: Buffer | object) =>
    server.app.inject({
      method: 'POST',
      url,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': Buffer.isBuffer(payload) ? 'application/octet-stream' : 'application/json',
      },
      payload,
    });
  const audit = () => logger.lines.filter((l) => l.audit === true && l.component === 'kms');
  return { post, audit };
}

// The streaming and data-key calls on the admin listener wrote `principal: "admin"` whoever called (an API key or
// access token with the `admin` scope is admitted there too), and a request refused for its input (a bad key name,
// context or field) wrote no audit line at all, although every KMS call is documented to write one.
describe('KMS stream and data-key audit lines on the admin listener', () => {
  it('name the admitted principal', async () => {
    const { post, audit } = setup();
    expect((await post('/v1/kms/stream/encrypt?key=orders', 'ghk_admin_scoped', Buffer.from('x'))).statusCode).toBe(
      200,
    );
    expect((await post('/v1/kms/datakey', 'ghk_admin_scoped', { key: 'orders' })).statusCode).toBe(200);
    expect((await post('/v1/kms/stream/verify', 'admin-token', Buffer.from('x'))).statusCode).toBe(200);
    expect(audit().map((l) => [l.operation, l.principal, l.result])).toEqual([
      ['stream.encrypt', 'api_key:ak_1', 'ok'],
      ['datakey', 'api_key:ak_1', 'ok'],
      ['stream.verify', 'admin-token', 'ok'],
    ]);
  });

  it('audit a request refused for its input', async () => {
    const { post, audit } = setup();
    expect((await post('/v1/kms/stream/encrypt?key=..bad', 'ghk_admin_scoped', Buffer.from('x'))).statusCode).toBe(400);
    expect((await post('/v1/kms/stream/decrypt?context=novalue', 'admin-token', Buffer.from('x'))).statusCode).toBe(
      400,
    );
    expect((await post('/v1/kms/datakey', 'admin-token', { key: 'orders', wrapped_only: 'yes' })).statusCode).toBe(400);
    expect(audit().map((l) => [l.operation, l.principal, l.result])).toEqual([
      ['stream.encrypt', 'api_key:ak_1', 'ERR_KMS_KEY_NAME_INVALID'],
      ['stream.decrypt', 'admin-token', 'ERR_HTTP_BAD_REQUEST'],
      ['datakey', 'admin-token', 'ERR_HTTP_BAD_REQUEST'],
    ]);
  });
});
