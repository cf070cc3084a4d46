import type { FastifyInstance } from 'fastify';
import * as oidc from 'openid-client';
import type { IdentityServer } from '../../../src/app/identity_server.js';
import { ManualClock, type MemoryLogger } from '../../../src/core/index.js';
import { registerIdentityDevicePages } from '../../../src/http/index.js';
import { MapVault } from '../harness.js';
import { openMemoryIdentity } from '../../support/identity.js';
import { pageOf, type FormBrowser, type Page } from '../../support/sign_in.js';

export const ISSUER = 'https://id.test.example';
export const AUDIENCE = 'https://orders.test.example';
export const PASSWORD = 'correct horse battery staple';
export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const TV_ADDRESS = '203.0.113.10';

/** The phone: a cookie jar over fastify inject. */
export interface Phone extends FormBrowser {
  get(url: string): Promise<Page>;
  post(url: string, form: Record<string, string>): Promise<Page>;
}

export interface DeviceHarness {
  clock: ManualClock;
  identity: IdentityServer;
  app: FastifyInstance;
  logger: MemoryLogger;
  /** The TV's fetch: forwards to the app; each token request first moves the clock by `advanceMsPerPoll`. */
  fetch: typeof globalThis.fetch;
  advanceMsPerPoll: number;
  phone(address?: string): Phone;
  post(path: string, form: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Discovery for the public device client (openid-client). */
  discover(clientId: string): Promise<oidc.Configuration>;
  close(): Promise<void>;
}

/** Identity on a memory store with the token routes and the device routes and pages. */
export async function deviceHarness(settings: { device?: Record<string, unknown> } = {}): Promise<DeviceHarness> {
  const clock = new ManualClock(Date.now());
  const { config, logger, identity, app, close } = await openMemoryIdentity({
    identity: { issuer: ISSUER, signIn: { scryptCost: 10 }, device: { interval: 1, ...settings.device } },
    clock,
    vault: new MapVault(),
    routes: (opened) => ({ userinfo: opened.userinfo, corsOrigins: async () => false }),
  });
  registerIdentityDevicePages(app, {
    ...identity.people.device,
    flow: identity.people.flow,
    sessions: identity.people.sessions,
    logger,
    maxBodyBytes: config.identity.limits.maxBodyBytes,
  });
  await app.ready();
  const harness: DeviceHarness = {
    clock,
    identity,
    app,
    logger,
    advanceMsPerPoll: 0,
    fetch: (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const request = input instanceof Request ? input : new Request(input, init);
      const url = new URL(request.url);
      if (url.pathname === '/oauth2/token') clock.advance(harness.advanceMsPerPoll);
      const headers: Record<string, string> = {};
      request.headers.forEach((v, k) => (headers[k] = v));
      const body = request.method === 'GET' ? undefined : await request.text();
      const res = await app.inject({
        method: request.method as 'GET' | 'POST',
        url: url.pathname + url.search,
        headers,
        ...(body === undefined ? {} : { payload: body }),
        remoteAddress: TV_ADDRESS,
      });
      const out = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out.set(k, String(v));
      return new Response(res.body, { status: res.statusCode, headers: out });
    }) as typeof globalThis.fetch,
    phone(address = '198.51.100.7') {
      let cookie: string | undefined;
      const remember = (value: string | string[] | undefined) => {
        for (const c of value === undefined ? [] : Array.isArray(value) ? value : [value]) {
          const pair = c.split(';')[0] as string;
          cookie = pair.endsWith('=') ? undefined : pair;
        }
      };
      return {
        async get(url) {
          const res = await app.inject({
            method: 'GET',
            url,
            headers: cookie ? { cookie } : {},
            remoteAddress: address,
          });
          remember(res.headers['set-cookie']);
          return pageOf(res);
        },
        async post(url, form) {
          const res = await app.inject({
            method: 'POST',
            url,
            headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
            payload: new URLSearchParams(form).toString(),
            remoteAddress: address,
          });
          remember(res.headers['set-cookie']);
          return pageOf(res);
        },
      };
    },
    async post(path, form) {
      const res = await app.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(form).toString(),
        remoteAddress: TV_ADDRESS,
      });
      return { status: res.statusCode, json: (res.body ? JSON.parse(res.body) : {}) as Record<string, unknown> };
    },
    discover(clientId) {
      return oidc.discovery(new URL(ISSUER), clientId, undefined, oidc.None(), {
        [oidc.customFetch]: harness.fetch,
        algorithm: 'oauth2',
      });
    },
    close,
  };
  return harness;
}

/** The orders API, users `ada` and `bob`, and a public device client (device_code + refresh_token); its id. */
export async function seedDevice(h: DeviceHarness, username = 'ada'): Promise<string> {
  if (!(await h.identity.apis.get(AUDIENCE))) {
    await h.identity.apis.create(AUDIENCE, [
      { name: 'orders:read', description: 'See your orders' },
      { name: 'orders:write', description: 'Place and cancel orders' },
    ]);
  }
  if (!(await h.identity.people.users.find(username))) {
    await h.identity.people.users.create({ username, password: PASSWORD, roles: ['viewer'] });
  }
  const { client } = await h.identity.clients.create({
    name: 'Living Room TV',
    public: true,
    grantTypes: [DEVICE_GRANT, 'refresh_token'],
    scopes: ['orders:read'],
  });
  return client.clientId;
}

/** The phone signs in on the device page (arriving by `verification_uri_complete`) and lands on the code form. */
export async function phoneSignIn(phone: Phone, path: string, username = 'ada'): Promise<Page> {
  const login = await phone.get(path);
  if (login.status !== 200 || !login.body.includes('>Sign in</button>'))
    throw new Error(`no sign-in page: ${login.status}`);
  const signedIn = await phone.post('/oauth2/device/login', {
    csrf: login.inputs.csrf as string,
    user_code: login.inputs.user_code ?? '',
    username,
    password: PASSWORD,
  });
  if (signedIn.status !== 303 || !signedIn.location) throw new Error(`sign-in failed: ${signedIn.status}`);
  return phone.get(signedIn.location);
}
