import { describe, expect, it } from 'vitest';
import { parseDurationField } from '../../src/http/request_parse.js';

// `gatehouse apikey create --expires-in -1d` / `client create --access-token-ttl abc` / `client rotate-secret
// --overlap -1d` answered "Invalid request: expires_in", which does not say what was expected.
describe('parseDurationField', () => {
  it('reads a duration in milliseconds and passes an absent field through', () => {
    expect(parseDurationField('15m', 'access_token_ttl')).toBe(900_000);
    expect(parseDurationField(undefined, 'overlap')).toBeUndefined();
  });

  it('refuses what is not a duration, naming the field and the expected form', () => {
    for (const text of ['-1d', 'abc', '']) {
      expect(() => parseDurationField(text, 'expires_in')).toThrow(
        expect.objectContaining({
          code: 'ERR_HTTP_BAD_REQUEST',
          message: 'Invalid request: expires_in: expected a duration such as 15m, 24h or 30d',
        }),
      );
    }
  });
});
