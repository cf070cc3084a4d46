import { afterEach, describe, expect, it } from 'vitest';
import { isGatehouseError } from '../../../src/core/index.js';
import { REDIRECT, peopleHarness, seed, type PeopleHarness } from './harness.js';

let h: PeopleHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const SPA = 'https://spa.test.example';

describe('CORS for single-page apps', () => {
  it('token and revocation answers carry CORS only for the authenticated client’s own origins', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h, { allowedOrigins: [SPA] });
    const { clientId: plain } = await seed(h);
    const ask = async (client: string, origin: string, path = '/oauth2/token') =>
      h!.app.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
        payload:
          path === '/oauth2/token'
            ? `grant_type=refresh_token&client_id=${client}&refresh_token=ghr_x`
            : `token=ghr_x&client_id=${client}`,
      });
    const allowed = await ask(clientId, SPA);
    expect(allowed.json().error).toBe('invalid_grant'); // errors are readable by the app too
    expect(allowed.headers['access-control-allow-origin']).toBe(SPA);
    expect(allowed.headers.vary).toContain('Origin');
    expect(allowed.headers['access-control-allow-credentials']).toBeUndefined();
    expect((await ask(clientId, 'https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
    expect((await ask(plain, SPA)).headers['access-control-allow-origin']).toBeUndefined();
    expect((await ask(clientId, SPA, '/oauth2/revoke')).headers['access-control-allow-origin']).toBe(SPA);
    expect((await ask(plain, SPA, '/oauth2/revoke')).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('preflights are answered for registered origins only; never on the authorization endpoint', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h, { allowedOrigins: [SPA] });
    const preflight = (url: string, origin: string) =>
      h!.app.inject({
        method: 'OPTIONS',
        url,
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const ok = await preflight('/oauth2/token', SPA);
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(SPA);
    expect(ok.headers['access-control-allow-methods']).toBe('POST');
    expect((await preflight('/oauth2/revoke', SPA)).headers['access-control-allow-origin']).toBe(SPA);
    expect(
      (await preflight('/oauth2/token', 'https://evil.example')).headers['access-control-allow-origin'],
    ).toBeUndefined();
    const authorize = await h.app.inject({
      method: 'GET',
      url: `/oauth2/authorize?client_id=${clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}`,
      headers: { origin: SPA },
    });
    expect(authorize.headers['access-control-allow-origin']).toBeUndefined();
    expect((await preflight('/oauth2/authorize', SPA)).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allowed origins must be exact https origins (http only on loopback)', async () => {
    h = await peopleHarness();
    for (const bad of [
      '*',
      'https://spa.example/',
      'https://spa.example/app',
      'http://spa.example',
      'null',
      'spa.example',
    ]) {
      const err = await seed(h, { allowedOrigins: [bad] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isGatehouseError(err, 'ERR_IDENTITY_CLIENT_INVALID'), bad).toBe(true);
    }
    await expect(seed(h, { allowedOrigins: ['http://127.0.0.1:5173'] })).resolves.toBeDefined();
  });
});
