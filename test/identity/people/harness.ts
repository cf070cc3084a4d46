import type { FastifyInstance } from 'fastify';
import type { IdentityServer } from '../../../src/app/identity_server.js';
import { ManualClock, type MemoryLogger, type RecordStore } from '../../../src/core/index.js';
import { registerIdentityPages } from '../../../src/http/index.js';
import { MapVault } from '../harness.js';
import { openMemoryIdentity } from '../../support/identity.js';
import { injectFetch } from '../../support/inject_fetch.js';
import { PKCE, pageOf, type FormBrowser, type Page, type Person } from '../../support/sign_in.js';

export const ISSUER = 'https://id.test.example';
export const AUDIENCE = 'https://orders.test.example';
export const REDIRECT = 'https://app.test.example/callback';
export const PASSWORD = 'correct horse battery staple';
/** The person {@link seed} registers. */
export const ADA: Person = { username: 'ada', password: PASSWORD };

/**
 * The parameters of a code request by `clientId` at REDIRECT (scope orders:read, state st-1, the RFC 7636 challenge),
 * `extra` merged over them (an undefined value leaves the parameter out of `authorizePath`).
 *
 * @example
 * await browser.get(authorizePath(codeRequest(clientId, { prompt: 'none' })));
 */
export function codeRequest(
  clientId: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'orders:read',
    state: 'st-1',
    code_challenge: PKCE.challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

/** A browser of sorts: a cookie jar over fastify inject, remembering our session cookie. */
export interface Browser extends FormBrowser {
  cookie: string | undefined;
  setCookies: string[];
  get(url: string): Promise<Page>;
  post(url: string, form: Record<string, string>, headers?: Record<string, string>): Promise<Page>;
}

export interface PeopleHarness {
  clock: ManualClock;
  store: RecordStore;
  identity: IdentityServer;
  app: FastifyInstance;
  logger: MemoryLogger;
  fetch: typeof globalThis.fetch;
  browser(address?: string): Browser;
  /** A form POST to the token endpoint (or `path`); the JSON answer ({} for an empty body). */
  token(
    form: Record<string, string>,
    headers?: Record<string, string>,
    path?: string,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Identity (memory store, fast scrypt) with its routes and the sign-in pages on an un-listened fastify. */
export async function peopleHarness(
  signIn: Record<string, unknown> = {},
  options: { store?: RecordStore; clock?: ManualClock } = {},
): Promise<PeopleHarness> {
  const clock = options.clock ?? new ManualClock(Date.now());
  const { config, store, logger, identity, app, close } = await openMemoryIdentity({
    identity: { issuer: ISSUER, signIn: { scryptCost: 10, ...signIn } },
    clock,
    vault: new MapVault(),
    store: options.store,
    routes: (opened) => ({
      corsOrigins: (origin) => opened.corsOrigins.allows(origin),
      userinfo: opened.userinfo,
    }),
    revocationRoutes: true,
  });
  registerIdentityPages(app, {
    flow: identity.people.flow,
    sessions: identity.people.sessions,
    apps: identity.people.apps,
    apis: identity.apis,
    clients: identity.clients.cache,
    logger,
    maxBodyBytes: config.identity.limits.maxBodyBytes,
    endSession: identity.endSession,
  });
  await app.ready();
  const fetchImpl = injectFetch(app);
  return {
    clock,
    store,
    identity,
    app,
    logger,
    fetch: fetchImpl as typeof globalThis.fetch,
    browser(address = '198.51.100.7') {
      const jar: Browser = {
        cookie: undefined,
        setCookies: [],
        async get(url) {
          const res = await app.inject({
            method: 'GET',
            url,
            headers: jar.cookie ? { cookie: jar.cookie } : {},
            remoteAddress: address,
          });
          remember(res.headers['set-cookie']);
          return pageOf(res);
        },
        async post(url, form, headers = {}) {
          const res = await app.inject({
            method: 'POST',
            url,
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              ...(jar.cookie ? { cookie: jar.cookie } : {}),
              ...headers,
            },
            payload: new URLSearchParams(form).toString(),
            remoteAddress: address,
          });
          remember(res.headers['set-cookie']);
          return pageOf(res);
        },
      };
      const remember = (value: string | string[] | undefined) => {
        if (value === undefined) return;
        for (const cookie of Array.isArray(value) ? value : [value]) {
          jar.setCookies.push(cookie);
          const pair = cookie.split(';')[0] as string;
          jar.cookie = pair.endsWith('=') ? undefined : pair;
        }
      };
      return jar;
    },
    async token(form, headers = {}, path = '/oauth2/token') {
      const res = await app.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        payload: new URLSearchParams(form).toString(),
        remoteAddress: '203.0.113.10',
      });
      return { status: res.statusCode, json: (res.body ? JSON.parse(res.body) : {}) as Record<string, unknown> };
    },
    close,
  };
}

/** An API, a user `ada` (roles admin) and a public code+refresh client; returns the client id. */
export async function seed(
  h: PeopleHarness,
  client: Record<string, unknown> = {},
): Promise<{ clientId: string; secret: string | undefined }> {
  if (!(await h.identity.apis.get(AUDIENCE))) {
    await h.identity.apis.create(AUDIENCE, [
      { name: 'orders:read', description: 'See your orders' },
      { name: 'orders:write', description: 'Place and cancel orders' },
    ]);
  }
  if (!(await h.identity.people.users.find('ada'))) {
    await h.identity.people.users.create({ username: 'ada', password: PASSWORD, roles: ['admin'] });
  }
  const { client: created, secret } = await h.identity.clients.create({
    name: 'Order Desk',
    public: true,
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['orders:read', 'orders:write'],
    redirectUris: [REDIRECT],
    ...client,
  });
  return { clientId: created.clientId, secret };
}
