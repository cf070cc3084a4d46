import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oidc from 'openid-client';
import { fetch as undiciFetch, request, type Agent } from 'undici';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningGatehouse } from '../../src/app/index.js';
import { launchChromium } from '../support/browser.js';
import { trustingAgent } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse } from '../support/up.js';

/**
 * Real-browser tests: a real `gatehouse up` in process, headless Debian Chromium driven by playwright-core.
 *
 * TLS: Chromium does not read NODE_EXTRA_CA_CERTS, and an NSS database would have to be built per run; the browser
 * context therefore uses `ignoreHTTPSErrors: true`. The test process itself (openid-client, admin API) trusts the
 * platform CA through the data directory's trust bundle, so the certificate is still verified on that side.
 *
 * Screenshots of every page at 390 and 1280 px go to a temp dir, or to SCREENSHOTS_DIR when set
 * (`SCREENSHOTS_DIR=docs/screenshots` refreshes the ones in docs/).
 */
const PASSWORD = 'correct horse battery staple';
const AUDIENCE = 'https://orders.example';
const WIDTHS = [390, 1280] as const;

let running: RunningGatehouse;
let agent: Agent;
let browser: Browser;
let callback: Server;
let redirectUri: string;
let shots: string;
const captured: URL[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

async function admin(path: string, body: unknown): Promise<Record<string, unknown>> {
  const token = readFileSync(running.paths.adminToken, 'utf8').trim();
  const res = await request(`${running.endpoints.admin}${path}`, {
    method: 'POST',
    dispatcher: agent,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.body.json()) as Record<string, unknown>;
  expect(res.statusCode, JSON.stringify(json)).toBe(201);
  return json;
}

/** Full-page screenshots at both widths; the page is put back to the first width afterwards. */
async function screenshot(page: Page, name: string): Promise<void> {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    const png = await page.screenshot({ path: join(shots, `${name}-${width}.png`), fullPage: true });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  }
  await page.setViewportSize({ width: WIDTHS[0], height: 800 });
}

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  // ignoreHTTPSErrors: Chromium ignores NODE_EXTRA_CA_CERTS (see the comment at the top).
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 800 } });
  context.setDefaultTimeout(30_000);
  cleanups.push(() => context.close());
  return { context, page: await context.newPage() };
}

async function discover(clientId: string): Promise<oidc.Configuration> {
  const issuer = running.endpoints.identity;
  return oidc.discovery(new URL(issuer), clientId, undefined, oidc.None(), {
    algorithm: 'oauth2',
    // undici's fetch with an agent that trusts the platform CA (the test side verifies the certificate)
    [oidc.customFetch]: async (url, init) =>
      (await undiciFetch(url, { ...init, dispatcher: agent } as Parameters<
        typeof undiciFetch
      >[1])) as unknown as Response,
  });
}

async function signIn(page: Page): Promise<void> {
  await page.fill('#username', 'ada');
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
}

async function waitForCallback(count: number): Promise<URL> {
  await expect.poll(() => captured.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(count);
  return captured[count - 1] as URL;
}

beforeAll(async () => {
  const tmp = tempDir();
  cleanups.push(tmp.remove);
  shots = process.env.SCREENSHOTS_DIR ?? join(tmp.dir, 'shots');
  ({ running } = await startTestGatehouse({
    dataDir: join(tmp.dir, 'data'),
    demoMesh: true,
    overrides: { identity: { signIn: { scryptCost: 12 }, device: { interval: 1 } } },
  }));
  cleanups.push(() => running.stop());
  agent = trustingAgent(running.endpoints.trustBundle);
  cleanups.push(() => agent.close());

  callback = createServer((req, res) => {
    captured.push(new URL(req.url ?? '/', redirectUri));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Back at the app</title><p>Back at the app.</p>');
  });
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => callback.close(() => resolve())));
  redirectUri = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;

  browser = await launchChromium();
  cleanups.push(() => browser.close());

  await admin('/v1/identity/apis', {
    audience: AUDIENCE,
    scopes: [{ name: 'orders:read', description: 'See your orders' }],
  });
  await admin('/v1/identity/users', { username: 'ada', password: PASSWORD, roles: ['admin'] });
}, 120_000);

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()?.();
}, 60_000);

describe('sign-in pages in headless Chromium against gatehouse up', () => {
  it('code + PKCE: login, consent (Allow), the code at the loopback redirect URI, exchanged for tokens', async () => {
    const created = await admin('/v1/identity/clients', {
      name: 'Order Desk',
      grant_types: ['authorization_code', 'refresh_token'],
      public: true,
      scope: 'orders:read',
      redirect_uris: [redirectUri],
    });
    const config = await discover(created.client_id as string);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'orders:read',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const { page } = await newPage();
    await page.goto(url.href);
    await expect.poll(() => page.locator('h1').textContent()).toBe('Sign in');
    await screenshot(page, 'login');
    await signIn(page);
    await page.waitForSelector('button[value=allow]');
    expect(await page.locator('h1').textContent()).toContain('Order Desk');
    await screenshot(page, 'consent');
    const before = captured.length;
    await page.click('button[value=allow]');
    const back = await waitForCallback(before + 1);
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('code')).toBeTruthy();
    const tokens = await oidc.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1] as string, 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'ada', aud: AUDIENCE, scope: 'orders:read' });
  }, 120_000);

  it('consent denied: access_denied at the redirect URI, with the state', async () => {
    const created = await admin('/v1/identity/clients', {
      name: 'Report Viewer',
      grant_types: ['authorization_code'],
      public: true,
      scope: 'orders:read',
      redirect_uris: [redirectUri],
    });
    const config = await discover(created.client_id as string);
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'orders:read',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state,
    });
    const { page } = await newPage();
    await page.goto(url.href);
    await signIn(page);
    await page.waitForSelector('button[value=deny]');
    const before = captured.length;
    await page.click('button[value=deny]');
    const back = await waitForCallback(before + 1);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('code')).toBeNull();
  }, 120_000);

  it('a forged CSRF token signs nobody in: the sign-in page comes back with a fresh token and says so', async () => {
    const { page } = await newPage();
    await page.goto(`${running.endpoints.identity}/oauth2/login`);
    await page.waitForSelector('#username');
    await page.$eval('input[name=csrf]', (input) => {
      (input as { value: string }).value = 'forged-token-forged-token-forged';
    });
    await signIn(page);
    await expect.poll(() => page.locator('[role=alert]').textContent()).toContain('This page had expired');
    expect(await page.locator('h1').textContent()).toBe('Sign in');
    expect(await page.inputValue('input[name=csrf]')).not.toBe('forged-token-forged-token-forged');
    await screenshot(page, 'error');
    await page.goto(`${running.endpoints.identity}/oauth2/account`);
    expect(await page.locator('h1').textContent()).toBe('Sign in');
  }, 120_000);

  it('device flow: the TV polls with openid-client while the phone signs in, enters the code and allows', async () => {
    const created = await admin('/v1/identity/clients', {
      name: 'Living Room TV',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      public: true,
      scope: 'orders:read',
    });
    const config = await discover(created.client_id as string);
    const started = await oidc.initiateDeviceAuthorization(config, { scope: 'orders:read' });
    const polling = oidc.pollDeviceAuthorizationGrant(config, started);

    const { page } = await newPage();
    await page.goto(started.verification_uri);
    await page.waitForSelector('#username');
    await signIn(page);
    await page.waitForSelector('#user_code');
    await screenshot(page, 'device-code-entry');
    await page.fill('#user_code', started.user_code.toLowerCase());
    await page.click('button[type=submit]');
    await page.waitForSelector('button[value=allow]');
    expect(await page.locator('h1').textContent()).toContain('Living Room TV');
    await screenshot(page, 'device-confirm');
    await page.click('button[value=allow]');
    await expect.poll(() => page.textContent('body')).toContain('Device connected');
    await screenshot(page, 'device-connected');
    // the answer page is a GET after a redirect: reloading it shows it again and sends no decision
    expect(new URL(page.url()).pathname).toBe('/oauth2/device/done');
    await page.reload();
    await expect.poll(() => page.textContent('body')).toContain('Device connected');

    const tokens = await polling;
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1] as string, 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'ada', aud: AUDIENCE, scope: 'orders:read' });
  }, 120_000);

  it('logout: the Sign out confirmation ends the session; the account page asks to sign in again', async () => {
    const { page } = await newPage();
    await page.goto(`${running.endpoints.identity}/oauth2/account`);
    await signIn(page);
    // a sign-in without an authorization request ends on the account page
    await expect.poll(() => page.locator('h1').textContent()).toBe('Your account');
    expect(new URL(page.url()).pathname).toBe('/oauth2/account');
    await page.goto(`${running.endpoints.identity}/oauth2/logout`);
    await page.waitForSelector('button[type=submit]');
    expect(await page.locator('h1').textContent()).toBe('Sign out');
    await screenshot(page, 'logout');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('body')).toContain('You are signed out.');
    await screenshot(page, 'signed-out');
    await page.goto(`${running.endpoints.identity}/oauth2/account`);
    expect(await page.locator('h1').textContent()).toBe('Sign in');
  }, 120_000);
  it('reloading the consent page that answered the sign-in shows it again (no CSRF error page)', async () => {
    const created = await admin('/v1/identity/clients', {
      name: 'Reload Desk',
      grant_types: ['authorization_code'],
      public: true,
      scope: 'orders:read',
      redirect_uris: [redirectUri],
    });
    const config = await discover(created.client_id as string);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'orders:read',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
    });
    const { page } = await newPage();
    await page.goto(url.href);
    await signIn(page);
    await page.waitForSelector('button[value=allow]');
    // Chromium re-sends the sign-in POST (the pre-sign-in CSRF token, the new cookie)
    await page.reload();
    await page.waitForSelector('button[value=allow]');
    expect(await page.locator('h1').textContent()).toContain('Reload Desk');
    expect(new URL(page.url()).pathname).toBe('/oauth2/authorize');
    const before = captured.length;
    await page.click('button[value=allow]');
    expect((await waitForCallback(before + 1)).searchParams.get('code')).toBeTruthy();
  }, 120_000);

  it("a native app's private-use redirect URI: Allow leaves for the app's scheme; the CSP does not block it", async () => {
    const created = await admin('/v1/identity/clients', {
      name: 'Phone App',
      grant_types: ['authorization_code'],
      public: true,
      scope: 'orders:read',
      redirect_uris: ['com.example.app:/oauth/cb'],
    });
    const config = await discover(created.client_id as string);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'com.example.app:/oauth/cb',
      scope: 'orders:read',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 'native-state',
    });
    const { page } = await newPage();
    const violations: string[] = [];
    const leaving: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) violations.push(message.text());
    });
    page.on('request', (req) => {
      if (req.url().startsWith('com.example.app:')) leaving.push(req.url());
    });
    await page.goto(url.href);
    await signIn(page);
    await page.waitForSelector('button[value=allow]');
    await page.click('button[value=allow]');
    // headless Chromium has no handler for the scheme, so the navigation is attempted and then aborted
    await expect.poll(() => leaving.length).toBe(1);
    const back = new URL(leaving[0] as string);
    expect(back.searchParams.get('state')).toBe('native-state');
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(violations).toEqual([]);
  }, 120_000);

  it('account page: a device connected with a refresh token is listed; Revoke signs it out', async () => {
    const created = await admin('/v1/identity/clients', {
      name: 'Bedroom TV',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      public: true,
      scope: 'orders:read',
    });
    const config = await discover(created.client_id as string);
    const started = await oidc.initiateDeviceAuthorization(config, { scope: 'orders:read offline_access' });
    const polling = oidc.pollDeviceAuthorizationGrant(config, started);
    const { page } = await newPage();
    await page.goto(started.verification_uri_complete as string);
    await page.waitForSelector('#username');
    await signIn(page);
    await page.waitForSelector('#user_code');
    await page.click('button[type=submit]');
    await page.waitForSelector('button[value=allow]');
    expect(await page.textContent('body')).toContain('Only allow if you started this yourself');
    await page.click('button[value=allow]');
    await expect.poll(() => page.textContent('body')).toContain('Device connected');
    const tokens = await polling;
    expect(typeof tokens.refresh_token).toBe('string');

    await page.goto(`${running.endpoints.identity}/oauth2/account`);
    const item = page.locator('li', { hasText: 'Bedroom TV' });
    await expect.poll(() => item.textContent()).toContain('It stays connected while you are away');
    await screenshot(page, 'account');
    await item.locator('button', { hasText: 'Revoke' }).click();
    await expect.poll(() => page.locator('li', { hasText: 'Bedroom TV' }).count()).toBe(0);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  }, 120_000);
});
