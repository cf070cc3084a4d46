import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startBackend, startGateway, tableAuthenticator, type RunningGateway } from '../gateway/support.js';
import { launchChromium } from '../support/browser.js';

/**
 * The gateway's CORS policy judged by a real browser: headless Debian Chromium (playwright-core) runs `fetch` from
 * pages of two origins against a gateway route whose policy allows one of them. Chromium makes the preflight and
 * decides what the page may read; the test only looks at what the page got.
 *
 * TLS: Chromium ignores NODE_EXTRA_CA_CERTS, so the context uses `ignoreHTTPSErrors` (as test/browser/sign_in.test.ts).
 */

let browser: Browser;
let pages: Server;
let pagePort: number;
let backend: Awaited<ReturnType<typeof startBackend>>;
let gw: RunningGateway;
const seen: string[] = [];

beforeAll(async () => {
  backend = await startBackend((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-order': '42', etag: '"v1"' });
      res.end(JSON.stringify({ method: req.method, url: req.url }));
    });
  });
  // One server, two origins: http://127.0.0.1:P (allowed) and http://localhost:P (not).
  pages = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>shop</title><p>shop</p>');
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  pagePort = (pages.address() as AddressInfo).port;
  gw = await startGateway(
    {
      upstreams: [{ name: 'u', hosts: [backend.url] }],
      routes: [
        {
          name: 'orders',
          pathPrefix: '/orders',
          upstream: 'u',
          auth: { kind: 'jwt' },
          cors: { allowOrigins: [`http://127.0.0.1:${pagePort}`], exposeHeaders: ['x-order'] },
        },
      ],
    },
    { authenticator: tableAuthenticator({ 'token-a': { sub: 'alice', clientId: 'shop', scopes: [] } }) },
  );
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await backend?.close();
  await new Promise<void>((resolve) => (pages ? pages.close(() => resolve()) : resolve()));
}, 60_000);

async function pageAt(host: string): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`http://${host}:${pagePort}/`);
  return page;
}

/** What a page's `fetch` got: status, readable headers and body, or the browser's error. */
function fetchFrom(page: Page, url: string, init: { method: string; headers: Record<string, string>; body?: string }) {
  return page.evaluate(
    async ([u, i]) => {
      try {
        const r = await fetch(u, i);
        return {
          status: r.status,
          requestId: r.headers.get('x-request-id'),
          order: r.headers.get('x-order'),
          etag: r.headers.get('etag'),
          body: (await r.json()) as Record<string, unknown>,
        };
      } catch (err) {
        return { error: String(err) };
      }
    },
    [url, init] as const,
  );
}

describe('gateway CORS in headless Chromium', () => {
  it('lets a page of the allowed origin PUT with a bearer token and read the answer and the exposed headers', async () => {
    const page = await pageAt('127.0.0.1');
    try {
      const before = seen.length;
      const got = await fetchFrom(page, `${gw.url}/orders/7`, {
        method: 'PUT',
        headers: { authorization: 'Bearer token-a', 'content-type': 'application/json' },
        body: '{"qty":2}',
      });
      expect(got).toMatchObject({ status: 200, order: '42', body: { method: 'PUT', url: '/orders/7' } });
      expect((got as { requestId: string }).requestId).toMatch(/./);
      // Not in exposeHeaders: the browser keeps it from the page.
      expect((got as { etag: unknown }).etag).toBeNull();
      // The preflight was the gateway's to answer: only the PUT reached the upstream.
      expect(seen.slice(before)).toEqual(['PUT /orders/7']);
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_cors_preflights_total\{route="orders",outcome="allowed"\} [1-9]/);

      // The gateway's own 401 is readable too, so the page can send its user to sign in.
      const refused = await fetchFrom(page, `${gw.url}/orders/7`, { method: 'GET', headers: {} });
      expect(refused).toMatchObject({ status: 401, body: { code: 'ERR_TOKEN_MISSING' } });
    } finally {
      await page.context().close();
    }
  });

  it('keeps the answer from a page of another origin, and sends its preflighted call nowhere', async () => {
    const page = await pageAt('localhost');
    try {
      const before = seen.length;
      const put = await fetchFrom(page, `${gw.url}/orders/7`, {
        method: 'PUT',
        headers: { authorization: 'Bearer token-a', 'content-type': 'application/json' },
        body: '{}',
      });
      expect(put).toEqual({ error: 'TypeError: Failed to fetch' });
      expect(seen.slice(before)).toEqual([]); // refused at the preflight: the PUT never left the browser
      // A simple GET needs no preflight: the gateway answers it (401: no token), with no CORS fields for this
      // origin, and the browser keeps that answer from the page.
      const get = await fetchFrom(page, `${gw.url}/orders/7`, { method: 'GET', headers: {} });
      expect(get).toEqual({ error: 'TypeError: Failed to fetch' });
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_cors_preflights_total\{route="orders",outcome="refused"\} [1-9]/);
    } finally {
      await page.context().close();
    }
  });
});
