import { connect } from 'node:tls';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  startBackend,
  startGateway,
  tableAuthenticator,
  testCertificate,
  type RunningGateway,
} from '../support.js';

type Backend = Awaited<ReturnType<typeof startBackend>>;

/** Writes raw bytes over TLS and returns everything the gateway answers until it closes (or 3 s). */
function rawExchange(port: number, bytes: string): Promise<string> {
  return rawSession(port, bytes).then((r) => r.text);
}

/** Like {@link rawExchange}, also telling whether the gateway closed the connection (rather than the 3 s timer). */
function rawSession(port: number, bytes: string): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: testCertificate().certPem, servername: 'localhost' }, () =>
      socket.write(bytes),
    );
    let text = '';
    let closedByServer = true;
    const timer = setTimeout(() => ((closedByServer = false), socket.destroy()), 3000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => (clearTimeout(timer), resolve({ text, closedByServer })));
    socket.on('error', (err) => (text === '' ? reject(err) : undefined));
  });
}

describe('gateway WAF stages', () => {
  let backend: Backend;
  let gw: RunningGateway;
  let bodies: string[];

  beforeAll(async () => {
    bodies = [];
    backend = await startBackend((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => {
        bodies.push(text);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url, body: text }));
      });
    });
    gw = await startGateway(
      {
        upstreams: [{ name: 'app', hosts: [backend.url] }],
        routes: [
          { name: 'strict', pathPrefix: '/strict', upstream: 'app', waf: { maxBody: 2048 } },
          { name: 'watch', pathPrefix: '/watch', upstream: 'app', waf: { mode: 'log' } },
          { name: 'open', pathPrefix: '/open', upstream: 'app', waf: { mode: 'off' } },
          {
            name: 'tight',
            pathPrefix: '/tight',
            upstream: 'app',
            waf: { maxHeaders: 20, maxHeaderBytes: 256, maxUrlLength: 200, maxArgs: 3, maxArgLength: 16 },
          },
          { name: 'private', pathPrefix: '/private', upstream: 'app', auth: { kind: 'api_key' } },
        ],
      },
      { authenticator: tableAuthenticator({ k1: { sub: 'u1', clientId: 'c1', scopes: [] } }) },
    );
  });
  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  const post = (path: string, body: string, type: string, headers: Record<string, string> = {}) =>
    request(gw.url + path, {
      method: 'POST',
      body,
      headers: { 'content-type': type, ...headers },
      dispatcher: gw.agent,
    }).then(async (r) => ({ status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> }));

  it('blocks an SQL injection in the query with 403 problem+json naming the rule, before the upstream', async () => {
    const before = backend.hits;
    const r = await call(gw, `/strict/search?q=${encodeURIComponent("' OR '1'='1")}`);
    expect(r.status).toBe(403);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(r.body).toMatchObject({ code: 'ERR_GATEWAY_WAF_BLOCKED', waf_rule: 'sqli', status: 403 });
    expect(backend.hits).toBe(before);
  });

  it('checks JSON, form and multipart bodies and forwards benign bodies unchanged', async () => {
    expect(
      (await post('/strict/c', JSON.stringify({ body: '<svg/onload=alert(1)>' }), 'application/json')).body,
    ).toMatchObject({ waf_rule: 'xss' });
    expect(
      (await post('/strict/c', 'name=%27%20OR%201%3D1--', 'application/x-www-form-urlencoded')).body,
    ).toMatchObject({ waf_rule: 'sqli' });
    const benign = JSON.stringify({ name: "O'Brien", note: 'SELECT a plan, **bold** <b>ok</b>' });
    const ok = await post('/strict/c', benign, 'application/json');
    expect(ok.status).toBe(200);
    expect(ok.body.body).toBe(benign);
  });

  it('refuses disallowed methods, content types and bodies over the route limit', async () => {
    expect((await call(gw, '/strict/x', { method: 'PROPFIND' })).body).toMatchObject({
      waf_rule: 'method_not_allowed',
    });
    expect((await post('/strict/x', '<a/>', 'application/xml')).body).toMatchObject({
      waf_rule: 'content_type_not_allowed',
    });
    expect((await post('/strict/x', 'x'.repeat(4096), 'text/plain')).body).toMatchObject({
      waf_rule: 'body_too_large',
    });
  });

  it('blocks traversal in the path and scanner user agents', async () => {
    expect((await call(gw, '/strict/f/..%252f..%252fetc%252fpasswd')).body).toMatchObject({
      waf_rule: 'path_traversal',
    });
    expect((await call(gw, '/strict/', { headers: { 'user-agent': 'sqlmap/1.7' } })).body).toMatchObject({
      waf_rule: 'scanner',
    });
  });

  it('refuses over the size and count caps (headers, URL, parameters of query and body) and admits what is at them', async () => {
    const before = backend.hits;
    const rule = async (path: string, headers: Record<string, string> = {}) => {
      const r = await call(gw, path, { headers });
      return r.status === 403 ? (r.body as Record<string, unknown>)['waf_rule'] : r.status;
    };
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));
    expect(await rule('/tight/a', many(25))).toBe('too_many_headers');
    expect(await rule('/tight/a', { 'x-long': 'v'.repeat(300) })).toBe('header_too_large');
    expect(await rule(`/tight/${'a'.repeat(200)}`)).toBe('url_too_long');
    expect(await rule('/tight/a?a=1&b=2&c=3&d=4')).toBe('too_many_args');
    expect(await rule(`/tight/a?a=${'x'.repeat(17)}`)).toBe('arg_too_long');
    // the length is that of the decoded value: 17 escaped bytes are 17 characters
    expect(await rule(`/tight/a?a=${'%41'.repeat(17)}`)).toBe('arg_too_long');
    expect(await rule('/tight/a?q=a%00b')).toBe('nul_byte');
    const form = (query: string, body: string) =>
      post(`/tight/a${query}`, body, 'application/x-www-form-urlencoded').then((r) =>
        r.status === 403 ? r.body['waf_rule'] : r.status,
      );
    expect(await form('', 'a=1&b=2&c=3&d=4')).toBe('too_many_args');
    // query and body parameters count together
    expect(await form('?a=1&b=2', 'c=3&d=4')).toBe('too_many_args');
    expect(await form('', `a=${'x'.repeat(17)}`)).toBe('arg_too_long');
    expect(backend.hits).toBe(before);
    // at the caps
    expect(await rule(`/tight/a?a=${'x'.repeat(16)}&b=2&c=3`, many(12))).toBe(200);
    expect(await rule('/tight/a', { 'x-long': 'v'.repeat(256 - 'x-long'.length) })).toBe(200);
    expect(await form('?a=1', `b=${'x'.repeat(16)}&c=3`)).toBe(200);
    expect(backend.hits).toBe(before + 3);
  });

  it('log mode counts the match and forwards; off mode does not look; /metrics shows the matches', async () => {
    const q = `?q=${encodeURIComponent('<script>alert(1)</script>')}`;
    expect((await call(gw, `/watch/a${q}`)).status).toBe(200);
    expect((await call(gw, `/open/a${q}`)).status).toBe(200);
    const text = await gw.gateway.metrics.text();
    expect(text).toMatch(/gatehouse_gateway_waf_matches_total\{route="watch",rule="xss",action="log"\} 1/);
    expect(text).toMatch(/gatehouse_gateway_waf_matches_total\{route="strict",rule="sqli",action="block"\} [1-9]/);
    expect(text).not.toMatch(/gatehouse_gateway_waf_matches_total\{route="open"/);
  });

  it('refuses an unauthenticated request before reading its body and closes the connection', async () => {
    const before = backend.hits;
    const answer = await rawSession(
      gw.port,
      'POST /private/x HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\ncontent-length: 100000\r\n\r\nonly-a-little',
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.closedByServer).toBe(true);
    expect(backend.hits).toBe(before);
  });

  it('refuses request smuggling forms at the socket with 400 and never reaches the upstream', async () => {
    const before = backend.hits;
    const clTe = await rawExchange(
      gw.port,
      'POST /open/x HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n' +
        'transfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /open/smuggled HTTP/1.1\r\nhost: localhost\r\n\r\n',
    );
    const dupCl = await rawExchange(
      gw.port,
      'POST /open/x HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\ncontent-length: 4\r\ncontent-length: 40\r\n\r\nabcd',
    );
    const badTe = await rawExchange(
      gw.port,
      'POST /open/x HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\ntransfer-encoding: xchunked\r\n\r\n0\r\n\r\n',
    );
    for (const answer of [clTe, dupCl, badTe]) expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(backend.hits).toBe(before);
    expect(bodies.some((b) => b.includes('smuggled'))).toBe(false);
  });
});
