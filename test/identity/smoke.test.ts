import { afterEach, describe, expect, it } from 'vitest';
import { basic, ccClient, identityHarness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('smoke', () => {
  it('issues a token', async () => {
    h = await identityHarness();
    const c = await ccClient(h);
    const res = await h.token('grant_type=client_credentials', { authorization: basic(c.clientId, c.secret) });
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('Bearer');
  });
});
