import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { storeThatCanGoAway } from '../support/store_away.js';
import { basic, ccClient, identityHarness, type Harness } from './harness.js';

/**
 * When the storage goes away (a replica loses PostgreSQL), the token, introspection and revocation endpoints answer
 * 503 `temporarily_unavailable`, which a client may retry, and recover by themselves once it is back. They used to
 * answer 500 `server_error` for ERR_STORE_UNAVAILABLE, as for a bug.
 */
let h: Harness | undefined;
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await h?.close();
  await close?.();
  h = undefined;
});

describe('OAuth endpoints while the storage is away', () => {
  it('token, introspection and revocation answer 503 temporarily_unavailable, then recover', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const { store, setAway } = storeThatCanGoAway(clock);
    close = () => store.close();
    h = await identityHarness({ clientCacheTtl: '0s' }, { store, clock });
    const c = await ccClient(h);
    const auth = basic(c.clientId, c.secret);
    const issued = await h.token('grant_type=client_credentials', { authorization: auth });
    expect(issued.status).toBe(200);
    const token = String(issued.json.access_token);
    const form = (body: string) => ({
      contentType: 'application/x-www-form-urlencoded',
      body,
      authorization: auth,
      address: '203.0.113.10',
    });

    setAway(true);
    const refused = await h.token('grant_type=client_credentials', { authorization: auth });
    expect([refused.status, refused.json.error]).toEqual([503, 'temporarily_unavailable']);
    expect(refused.headers['cache-control']).toBe('no-store');
    for (const endpoint of [h.identity.introspection, h.identity.revocation]) {
      const answer = await endpoint.handle(form(`token=${token}`));
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'temporarily_unavailable' });
    }
    expect(h.logger.lines.some((l) => l.level === 'error')).toBe(false);

    setAway(false);
    expect((await h.token('grant_type=client_credentials', { authorization: auth })).status).toBe(200);
    const active = await h.identity.introspection.handle(form(`token=${token}`));
    expect([active.status, JSON.parse(active.body).active]).toEqual([200, true]);
  });
});
