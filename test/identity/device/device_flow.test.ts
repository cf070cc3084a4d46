import { afterEach, describe, expect, it } from 'vitest';
import * as oidc from 'openid-client';
import { AUDIENCE, DEVICE_GRANT, deviceHarness, phoneSignIn, seedDevice, type DeviceHarness } from './harness.js';

let h: DeviceHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
}

function pathOf(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}

describe('device authorization grant (RFC 8628)', () => {
  it('metadata lists the device authorization endpoint and the grant', async () => {
    h = await deviceHarness();
    const config = await h.discover(await seedDevice(h));
    const metadata = config.serverMetadata();
    expect(metadata.device_authorization_endpoint).toBe('https://id.test.example/oauth2/device_authorization');
    expect(metadata.grant_types_supported).toContain(DEVICE_GRANT);
  });

  it('TV polls while the phone signs in, enters the code in lower case with dashes, confirms and allows: tokens', async () => {
    h = await deviceHarness();
    const config = await h.discover(await seedDevice(h));
    const started = await oidc.initiateDeviceAuthorization(config, { scope: 'orders:read offline_access' });
    expect(started.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}(-[BCDFGHJKLMNPQRSTVWXZ]{1,4})+$/);
    expect(started.verification_uri).toBe('https://id.test.example/oauth2/device');
    expect(started.verification_uri_complete).toBe(
      `https://id.test.example/oauth2/device?user_code=${encodeURIComponent(started.user_code)}`,
    );
    expect(started.expires_in).toBe(600);
    expect(started.interval).toBe(1);
    h.advanceMsPerPoll = 1000;
    const polling = oidc.pollDeviceAuthorizationGrant(config, started);

    const phone = h.phone();
    const form = await phoneSignIn(phone, '/oauth2/device');
    expect(form.status).toBe(200);
    expect(form.body).toContain('name="user_code"');
    expect(form.body).toContain('>Confirm</button>');
    expect(form.headers['content-security-policy']).toContain("default-src 'none'");
    const typed = started.user_code.toLowerCase().replace(/(.)(.)/, '$1-$2');
    const consent = await phone.post('/oauth2/device', { csrf: form.inputs.csrf as string, user_code: typed });
    expect(consent.status).toBe(200);
    expect(consent.body).toContain('Living Room TV');
    expect(consent.body).toContain('See your orders');
    expect(consent.body).toContain('>Allow</button>');
    expect(consent.body).toContain('>Deny</button>');
    const done = await phone.post('/oauth2/device/consent', {
      csrf: consent.inputs.csrf as string,
      user_code: consent.inputs.user_code as string,
      decision: 'allow',
    });
    // POST, redirect, GET: the answer page can be reloaded without sending the decision again
    expect(done.status).toBe(303);
    expect(done.location).toBe('/oauth2/device/done?result=connected');
    const shown = await phone.get(done.location as string);
    expect(shown.status).toBe(200);
    expect(shown.body).toContain('Device connected');
    expect((await phone.get(done.location as string)).body).toContain('Device connected');

    const tokens = await polling;
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(typeof tokens.refresh_token).toBe('string');
    const claims = claimsOf(tokens.access_token);
    expect(claims.sub).toBe('ada');
    expect(claims.aud).toBe(AUDIENCE);
    expect(claims.scope).toBe('orders:read');

    // the device code is one-time, and the user code is gone
    h.clock.advance(60_000);
    const again = await h.post('/oauth2/token', {
      grant_type: DEVICE_GRANT,
      device_code: started.device_code,
      client_id: config.clientMetadata().client_id,
    });
    expect(again.status).toBe(400);
    expect(again.json.error).toBe('invalid_grant');
    const reuse = await phone.post('/oauth2/device', { csrf: form.inputs.csrf as string, user_code: typed });
    expect(reuse.status).toBe(400);
  });

  it('with openid: an ID token for the device (checked by openid-client), consent in plain words, userinfo works', async () => {
    h = await deviceHarness();
    const config = await h.discover(await seedDevice(h));
    const started = await oidc.initiateDeviceAuthorization(config, { scope: 'openid profile orders:read' });
    h.advanceMsPerPoll = 1000;
    const polling = oidc.pollDeviceAuthorizationGrant(config, started);
    const phone = h.phone();
    const form = await phoneSignIn(phone, '/oauth2/device');
    const consent = await phone.post('/oauth2/device', {
      csrf: form.inputs.csrf as string,
      user_code: started.user_code,
    });
    expect(consent.status).toBe(200);
    expect(consent.body).toContain('Confirm who you are (an ID token)');
    expect(consent.body).toContain('See your username');
    const done = await phone.post('/oauth2/device/consent', {
      csrf: consent.inputs.csrf as string,
      user_code: consent.inputs.user_code as string,
      decision: 'allow',
    });
    expect((await phone.get(done.location as string)).body).toContain('Device connected');

    // openid-client verifies the ID token it receives (signature against the JWKS, iss, aud, exp, iat)
    const tokens = await polling;
    expect(typeof tokens.id_token).toBe('string');
    const id = tokens.claims();
    expect(id).toMatchObject({
      iss: 'https://id.test.example',
      sub: 'ada',
      aud: config.clientMetadata().client_id,
      preferred_username: 'ada',
    });
    expect(typeof id?.auth_time).toBe('number');
    expect(id?.nonce).toBeUndefined();
    expect(claimsOf(tokens.access_token).scope).toBe('openid profile orders:read');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, 'ada');
    expect(info.preferred_username).toBe('ada');
  });

  it('arrives by verification_uri_complete with the code prefilled after sign-in', async () => {
    h = await deviceHarness();
    const config = await h.discover(await seedDevice(h));
    const started = await oidc.initiateDeviceAuthorization(config, {});
    const form = await phoneSignIn(h.phone(), pathOf(started.verification_uri_complete as string));
    expect(form.inputs.user_code).toBe(started.user_code);
  });

  it('as a person: the consent warns against codes sent by others; a wrong password keeps the username', async () => {
    h = await deviceHarness();
    const config = await h.discover(await seedDevice(h));
    const started = await oidc.initiateDeviceAuthorization(config, {});
    const phone = h.phone();
    const login = await phone.get(pathOf(started.verification_uri_complete as string));
    const wrong = await phone.post('/oauth2/device/login', {
      csrf: login.inputs.csrf as string,
      user_code: login.inputs.user_code as string,
      username: 'ada',
      password: 'not the password',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.inputs.username).toBe('ada');
    expect(wrong.inputs.user_code).toBe(started.user_code);
    expect(wrong.body).not.toContain('not the password');
    const form = await phoneSignIn(phone, pathOf(started.verification_uri_complete as string));
    const consent = await phone.post('/oauth2/device', {
      csrf: form.inputs.csrf as string,
      user_code: form.inputs.user_code as string,
    });
    expect(consent.body).toContain('Only allow if you started this yourself on a device you have with you');
    for (const path of ['/oauth2/device/login', '/oauth2/device/consent']) {
      const page = await phone.get(path);
      expect([page.status, page.location], path).toEqual([302, '/oauth2/device']);
    }
  });

  it('Deny: the TV gets access_denied', async () => {
    h = await deviceHarness();
    const config = await h.discover(await seedDevice(h));
    const started = await oidc.initiateDeviceAuthorization(config, {});
    const phone = h.phone();
    const form = await phoneSignIn(phone, '/oauth2/device');
    const consent = await phone.post('/oauth2/device', {
      csrf: form.inputs.csrf as string,
      user_code: started.user_code,
    });
    const done = await phone.post('/oauth2/device/consent', {
      csrf: consent.inputs.csrf as string,
      user_code: consent.inputs.user_code as string,
      decision: 'deny',
    });
    expect(done.location).toBe('/oauth2/device/done?result=denied');
    expect((await phone.get(done.location as string)).body).toContain('Device not connected');
    h.advanceMsPerPoll = 1000;
    const error = await oidc.pollDeviceAuthorizationGrant(config, started).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(oidc.ResponseBodyError);
    expect((error as oidc.ResponseBodyError).error).toBe('access_denied');
  });

  it('expiry: the TV gets expired_token and the phone can no longer use the code', async () => {
    h = await deviceHarness();
    const config = await h.discover(await seedDevice(h));
    const started = await oidc.initiateDeviceAuthorization(config, {});
    const phone = h.phone();
    const form = await phoneSignIn(phone, '/oauth2/device');
    h.clock.advance(600_000);
    const late = await phone.post('/oauth2/device', { csrf: form.inputs.csrf as string, user_code: started.user_code });
    expect(late.status).toBe(400);
    expect(late.body).toContain('not valid');
    const error = await oidc
      .pollDeviceAuthorizationGrant(config, started, undefined, { signal: AbortSignal.timeout(10_000) })
      .catch((err: unknown) => err);
    expect((error as oidc.ResponseBodyError).error).toBe('expired_token');
  });

  it('interval: a poll before it is slow_down and adds 5 s for every later poll', async () => {
    h = await deviceHarness();
    const clientId = await seedDevice(h);
    const started = await h.post('/oauth2/device_authorization', { client_id: clientId });
    expect(started.status).toBe(200);
    const poll = () =>
      h!.post('/oauth2/token', {
        grant_type: DEVICE_GRANT,
        device_code: started.json.device_code as string,
        client_id: clientId,
      });
    expect((await poll()).json.error).toBe('authorization_pending');
    expect((await poll()).json.error).toBe('slow_down'); // interval now 6 s
    h.clock.advance(1_000);
    expect((await poll()).json.error).toBe('slow_down'); // interval now 11 s
    h.clock.advance(11_000);
    expect((await poll()).json.error).toBe('authorization_pending');
    const other = await seedDevice(h);
    const stolen = await h.post('/oauth2/token', {
      grant_type: DEVICE_GRANT,
      device_code: started.json.device_code as string,
      client_id: other,
    });
    expect(stolen.json.error).toBe('invalid_grant');
  });

  it('20 parallel polls: at most one passes the interval check, the others get slow_down', async () => {
    h = await deviceHarness();
    const clientId = await seedDevice(h);
    const started = await h.post('/oauth2/device_authorization', { client_id: clientId });
    const form = { grant_type: DEVICE_GRANT, device_code: started.json.device_code as string, client_id: clientId };
    const answers = await Promise.all(Array.from({ length: 20 }, () => h!.post('/oauth2/token', form)));
    const errors = answers.map((a) => a.json.error);
    expect(errors.filter((e) => e === 'authorization_pending').length).toBeLessThanOrEqual(1);
    expect(errors.filter((e) => e === 'slow_down').length).toBeGreaterThanOrEqual(19);
    expect(errors.every((e) => e === 'authorization_pending' || e === 'slow_down')).toBe(true);
    expect(answers.every((a) => a.status === 400)).toBe(true);
  });

  it('caps pending authorizations: beyond identity.device.maxPending the device gets 503 temporarily_unavailable with Retry-After', async () => {
    h = await deviceHarness({ device: { maxPending: 2 } });
    const clientId = await seedDevice(h);
    expect((await h.post('/oauth2/device_authorization', { client_id: clientId })).status).toBe(200);
    expect((await h.post('/oauth2/device_authorization', { client_id: clientId })).status).toBe(200);
    const res = await h.app.inject({
      method: 'POST',
      url: '/oauth2/device_authorization',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `client_id=${clientId}`,
    });
    // slow_down is a token endpoint polling error only (RFC 8628 §3.5); a full server is 503 temporarily_unavailable
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('temporarily_unavailable');
    expect(Number(res.headers['retry-after'])).toBe(1);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('a user disabled after allowing: the poll is invalid_grant, no tokens', async () => {
    h = await deviceHarness();
    const clientId = await seedDevice(h);
    const started = await h.post('/oauth2/device_authorization', { client_id: clientId });
    const phone = h.phone();
    const form = await phoneSignIn(phone, '/oauth2/device');
    const consent = await phone.post('/oauth2/device', {
      csrf: form.inputs.csrf as string,
      user_code: started.json.user_code as string,
    });
    await phone.post('/oauth2/device/consent', {
      csrf: consent.inputs.csrf as string,
      user_code: consent.inputs.user_code as string,
      decision: 'allow',
    });
    await h.identity.people.users.setDisabled('ada', true);
    const poll = await h.post('/oauth2/token', {
      grant_type: DEVICE_GRANT,
      device_code: started.json.device_code as string,
      client_id: clientId,
    });
    expect(poll.json.error).toBe('invalid_grant');
    expect(poll.json.access_token).toBeUndefined();
  });

  it('refuses a client not registered for the device grant, and an unknown scope', async () => {
    h = await deviceHarness();
    const clientId = await seedDevice(h);
    const { client } = await h.identity.clients.create({
      name: 'Web',
      public: true,
      grantTypes: ['authorization_code'],
      scopes: ['orders:read'],
      redirectUris: ['https://app.test.example/cb'],
    });
    const refused = await h.post('/oauth2/device_authorization', { client_id: client.clientId });
    expect(refused.json.error).toBe('unauthorized_client');
    const scope = await h.post('/oauth2/device_authorization', { client_id: clientId, scope: 'orders:write' });
    expect(scope.json.error).toBe('invalid_scope');
    const garbage = await h.app.inject({ method: 'POST', url: '/oauth2/device_authorization', payload: 'x' });
    expect(garbage.statusCode).toBe(400);
  });
});
