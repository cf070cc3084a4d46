import { describe, expect, it } from 'vitest';
import { errorFromAnswer } from '../../src/cli/problem_error.js';

describe('errorFromAnswer', () => {
  it('keeps the problem code and says when to try again from Retry-After (a throttled CA, say)', () => {
    const body = JSON.stringify({
      code: 'ERR_PKI_RATE_LIMITED',
      title: 'Too many requests to the CA; try again later',
    });
    const err = errorFromAnswer(429, body, '17');
    expect(err.code).toBe('ERR_PKI_RATE_LIMITED');
    expect(err.message).toBe('Too many requests to the CA; try again later (try again in 17 s)');
    // an HTTP-date or garbage is not repeated: the title alone
    expect(errorFromAnswer(429, body, 'Wed, 21 Oct 2026 07:28:00 GMT').message).toBe(
      'Too many requests to the CA; try again later',
    );
    expect(errorFromAnswer(429, body).message).toBe('Too many requests to the CA; try again later');
  });
});
