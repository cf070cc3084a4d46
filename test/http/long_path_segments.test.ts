import { afterEach, describe, expect, it } from 'vitest';
import { errorFromAnswer } from '../../src/cli/problem_error.js';
import { MemoryLogger } from '../../src/core/index.js';
import { registerKmsRoutes } from '../../src/http/index.js';
import { FakeKms, closeTestListeners, fakeAuthorizer, testListener } from './fake_kms.js';

afterEach(closeTestListeners);

function setup() {
  const logger = new MemoryLogger();
  const server = testListener('kms', logger);
  registerKmsRoutes(server.app, { ops: new FakeKms(), authorizer: fakeAuthorizer, logger, maxBatchItems: 10 });
  return async (url: string, body: object = {}) => {
    const response = await server.app.inject({
      method: 'POST',
      url,
      headers: { authorization: 'Bearer good' },
      payload: body,
    });
    return { status: response.statusCode, type: response.headers['content-type'], body: response.json() };
  };
}

// Key names may have 128 characters, but fastify's router refused any path segment over 100 with its own bare JSON
// (414, code FST_ERR_MAX_PARAM_LENGTH): a key created through the admin API with a 101-128 character name could not
// be used through the transit API, and `gatehouse kms key show NAME` crashed reading that answer.
describe('path segments the router refuses', () => {
  it('a 128-character key name reaches the transit routes', async () => {
    const call = setup();
    const name = `k${'x'.repeat(127)}`;
    expect((await call(`/v1/transit/keys/${name}`)).status).toBe(200);
    const sealed = await call(`/v1/transit/encrypt/${name}`, { plaintext: 'aGVsbG8=' });
    expect(sealed.status).toBe(200);
    expect(sealed.body.data.key_version).toBe(1);
  });

  it('a too long segment or a malformed percent-escape is a problem document with our code', async () => {
    const call = setup();
    const long = await call(`/v1/transit/encrypt/${'x'.repeat(600)}`, { plaintext: '' });
    expect(long.status).toBe(400);
    expect(long.type).toContain('application/problem+json');
    expect(long.body).toMatchObject({ code: 'ERR_HTTP_BAD_REQUEST', title: 'A path segment is too long' });
    const escape = await call('/v1/transit/encrypt/a%zz', { plaintext: '' });
    expect(escape.status).toBe(400);
    expect(escape.type).toContain('application/problem+json');
    expect(escape.body).toMatchObject({ code: 'ERR_HTTP_BAD_REQUEST' });
  });
});

describe('the CLI reading an error answer', () => {
  it('keeps a known code and title', () => {
    const err = errorFromAnswer(
      409,
      JSON.stringify({ code: 'ERR_KMS_KEY_EXISTS', title: 'A key with that name already exists' }),
    );
    expect(err.code).toBe('ERR_KMS_KEY_EXISTS');
    expect(err.message).toBe('A key with that name already exists');
  });

  it('does not crash on a code it does not know or on a body that is not JSON', () => {
    const unknown = errorFromAnswer(414, JSON.stringify({ code: 'FST_ERR_MAX_PARAM_LENGTH', message: 'too long' }));
    expect(unknown.code).toBe('ERR_HTTP_BAD_REQUEST');
    expect(unknown.message).toBe('HTTP 414');
    expect(errorFromAnswer(502, '<html>bad gateway</html>').code).toBe('ERR_INTERNAL');
    expect(errorFromAnswer(404, '').code).toBe('ERR_HTTP_NOT_FOUND');
    expect(errorFromAnswer(500, 'null').message).toBe('HTTP 500');
  });
});
