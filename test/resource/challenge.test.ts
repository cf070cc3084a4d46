import { validateHeaderValue } from 'node:http';
import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/core/index.js';
import { bearerChallenge, InsufficientScopeError } from '../../src/resource/index.js';

describe('bearerChallenge (RFC 6750 §3)', () => {
  it('keeps realm and scope inside the quoted-string characters, so node:http can always send them', () => {
    // A realm defaults to the audience, which may be any string; a character node refuses in a header would make
    // the plugins' setHeader throw inside their promise chain (an unhandled rejection) instead of answering 401.
    const realm = 'zakázky – objednávky\r\nX-Injected: 1 "quoted" \\ end';
    for (const err of [
      new GatehouseError('ERR_TOKEN_MISSING'),
      new GatehouseError('ERR_TOKEN_INVALID', { oauthError: 'invalid_token' }),
      new InsufficientScopeError(['orders:read', 'é\u2013"x'], 'missing'),
    ]) {
      const value = bearerChallenge(err, realm).headers['www-authenticate'] as string;
      expect(() => validateHeaderValue('www-authenticate', value)).not.toThrow();
      expect(value).toMatch(/^Bearer realm="[\x20\x21\x23-\x5b\x5d-\x7e]*"/);
      expect(value).not.toContain('X-Injected: 1\r');
    }
    const scoped = bearerChallenge(new InsufficientScopeError(['orders:read', 'é\u2013"x'], 'm'), 'orders');
    expect(scoped.headers['www-authenticate']).toBe(
      'Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope or role", scope="orders:read x"',
    );
  });
});
