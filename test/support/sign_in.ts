import { createHash, randomBytes } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import { expect } from 'vitest';

/**
 * The code verifier of RFC 7636 appendix B and its S256 challenge: a fixed PKCE pair for tests that need no secrecy.
 *
 * @example
 * authorizePath({ client_id: clientId, code_challenge: PKCE.challenge, code_challenge_method: 'S256' });
 */
export const PKCE = {
  verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
  challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
} as const;

/**
 * A fresh random PKCE pair: a 43-character verifier and its S256 challenge.
 *
 * @example
 * const { verifier, challenge } = pkcePair();
 */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * `/oauth2/authorize?...` with `params` in order, those that are undefined left out.
 *
 * @example
 * await browser.get(authorizePath({ client_id: clientId, response_type: 'code', state: undefined }));
 */
export function authorizePath(params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.append(name, value);
  return `/oauth2/authorize?${query.toString()}`;
}

/**
 * The path and query of a URL (what a browser over fastify inject asks for).
 *
 * @example
 * pathOf('https://id.test.example/oauth2/authorize?client_id=x'); // '/oauth2/authorize?client_id=x'
 */
export function pathOf(url: URL | string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}

/**
 * The named inputs of a page's forms and their (entity-decoded) values.
 *
 * @example
 * const { csrf, query } = inputsOf(page.body);
 */
export function inputsOf(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
    out[m[1] as string] = (m[2] as string).replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));
  }
  return out;
}

/** A page as the sign-in helpers read it. */
export interface FormPage {
  status: number;
  body: string;
  location: string | undefined;
  /** The page's input values by name ({@link inputsOf}). */
  inputs: Record<string, string>;
}

/** A {@link FormPage} with its headers: what a browser over fastify inject reads ({@link pageOf}). */
export interface Page extends FormPage {
  headers: Record<string, string | string[] | number | undefined>;
}

/**
 * The page of a fastify inject answer.
 *
 * @example
 * const page = pageOf(await app.inject({ method: 'GET', url: '/oauth2/login' }));
 */
export function pageOf(res: { statusCode: number; headers: Page['headers']; body: string }): Page {
  return {
    status: res.statusCode,
    headers: res.headers,
    body: res.body,
    location: typeof res.headers.location === 'string' ? res.headers.location : undefined,
    inputs: inputsOf(res.body),
  };
}

/** What the sign-in helpers need of a browser: GETs and form POSTs that keep the session cookie. */
export interface FormBrowser {
  get(url: string): Promise<FormPage>;
  post(url: string, form: Record<string, string>): Promise<FormPage>;
}

/** Who signs in. */
export interface Person {
  username: string;
  password: string;
}

/**
 * The sign-in form of `page` (its CSRF token and the authorization request it carries) for `person`.
 *
 * @example
 * const consent = await browser.post('/oauth2/authorize/login', signInForm(login, ADA));
 */
export function signInForm(page: { inputs: Record<string, string> }, person: Person): Record<string, string> {
  return {
    csrf: page.inputs.csrf as string,
    query: page.inputs.query ?? '',
    username: person.username,
    password: person.password,
  };
}

/**
 * The consent form of `page` answering `decision`, with "remember" ticked when `remember`.
 *
 * @example
 * const done = await browser.post('/oauth2/authorize/consent', consentForm(consent, 'allow'));
 */
export function consentForm(
  page: { inputs: Record<string, string> },
  decision: 'allow' | 'deny',
  remember = false,
): Record<string, string> {
  return {
    csrf: page.inputs.csrf as string,
    query: page.inputs.query as string,
    decision,
    ...(remember ? { remember: 'yes' } : {}),
  };
}

/**
 * Opens `url` (an authorization request), signs in as `person` and allows; expects the sign-in page (200), the consent
 * page (200) and the redirect to the client (303), and returns the three.
 *
 * @example
 * const { done } = await signInAndAllow(h.browser(), pathOf(url), ADA);
 * const code = new URL(done.location as string).searchParams.get('code');
 */
export async function signInAndAllow(
  browser: FormBrowser,
  url: string,
  person: Person,
  options: { remember?: boolean } = {},
): Promise<{ login: FormPage; consent: FormPage; done: FormPage }> {
  const login = await browser.get(url);
  expect(login.status, login.body).toBe(200);
  const consent = await browser.post('/oauth2/authorize/login', signInForm(login, person));
  expect(consent.status, consent.body).toBe(200);
  const done = await browser.post('/oauth2/authorize/consent', consentForm(consent, 'allow', options.remember));
  expect(done.status, done.body).toBe(303);
  return { login, consent, done };
}

/**
 * The code the authorization request `url` ends in: signs in as `person` and allows (remembered when `remember`) only
 * where the pages ask for it.
 *
 * @example
 * const code = await authorizationCode(browser, authorizePath(params), ADA, { remember: true });
 */
export async function authorizationCode(
  browser: FormBrowser,
  url: string,
  person: Person,
  options: { remember?: boolean } = {},
): Promise<string> {
  let page = await browser.get(url);
  if (page.body.includes('type="password"')) {
    page = await browser.post('/oauth2/authorize/login', signInForm(page, person));
  }
  if (page.body.includes('>Allow</button>')) {
    page = await browser.post('/oauth2/authorize/consent', consentForm(page, 'allow', options.remember));
  }
  return new URL(page.location as string).searchParams.get('code') as string;
}

/**
 * The token request of a public client exchanging `code` with its PKCE `verifier` (`redirect_uri` left out when
 * undefined).
 *
 * @example
 * const tokens = await h.token(codeExchangeForm(clientId, code, PKCE.verifier, REDIRECT));
 */
export function codeExchangeForm(
  clientId: string,
  code: string,
  verifier: string,
  redirectUri?: string,
): Record<string, string> {
  return {
    grant_type: 'authorization_code',
    client_id: clientId,
    code,
    ...(redirectUri === undefined ? {} : { redirect_uri: redirectUri }),
    code_verifier: verifier,
  };
}

/**
 * A browser over HTTPS: undici through `agent`, paths resolved against `origin`, cookies kept by name (one with an
 * empty value or Max-Age=0 removed).
 *
 * @example
 * const browser = httpsBrowser(agent, replica.url);
 * const login = await browser.get(authorizePath({ client_id: app, response_type: 'code' }));
 */
export function httpsBrowser(agent: Dispatcher, origin: string): FormBrowser {
  const jar = new Map<string, string>();
  const send = async (url: string, form?: Record<string, string>): Promise<FormPage> => {
    const headers: Record<string, string> = {};
    if (jar.size > 0) headers['cookie'] = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await request(new URL(url, origin).href, {
      method: form ? 'POST' : 'GET',
      dispatcher: agent,
      headers,
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const body = await res.body.text();
    const cookies = res.headers['set-cookie'];
    for (const cookie of cookies === undefined ? [] : Array.isArray(cookies) ? cookies : [cookies]) {
      const pair = cookie.split(';')[0] as string;
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0/i.test(cookie)) jar.delete(pair.slice(0, eq).trim());
      else jar.set(pair.slice(0, eq).trim(), value);
    }
    const location = res.headers['location'];
    return {
      status: res.statusCode,
      body,
      location: typeof location === 'string' ? location : undefined,
      inputs: inputsOf(body),
    };
  };
  return { get: (url) => send(url), post: (url, form) => send(url, form) };
}
