import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { GatehouseError } from '../core/index.js';
import type { TokenHttpRequest, TokenHttpResponse } from '../identity/index.js';

/** A framework-free OAuth form endpoint: the token, introspection and revocation endpoints all have this shape. */
export interface FormEndpoint {
  handle(request: TokenHttpRequest): Promise<TokenHttpResponse>;
}

/** What {@link serveRawFormRoutes} needs. */
export interface RawFormRoutesOptions {
  /** The exact request paths served here, each by its endpoint (POST only; anything else goes to the framework). */
  routes: Readonly<Record<string, FormEndpoint>>;
  /** Largest body accepted; a larger one is answered 400 invalid_request and the connection closed. */
  maxBodyBytes: number;
  /** The listener-wide headers fastify's onSend hook would add (HSTS, nosniff). */
  headers: Readonly<Record<string, string>>;
}

const tooLarge = (): TokenHttpResponse => ({
  status: 400,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' },
  body: JSON.stringify({ error: 'invalid_request', error_description: 'request body too large' }),
});

const serverError = (): TokenHttpResponse => ({
  status: 500,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify({ error: 'server_error' }),
});

function send(res: ServerResponse, answer: TokenHttpResponse, extra: Readonly<Record<string, string>>, close = false) {
  if (res.headersSent || res.destroyed) return;
  // One flat [name, value, ...] list (writeHead's raw form): no merged header object per answer. A listener-wide
  // header wins over an answer's header of the same name, as the object merge did. The body stays a string: node
  // then sends head and body in one write (one TLS record) instead of two.
  const headers: string[] = [];
  for (const name in answer.headers) {
    if (!(name in extra)) headers.push(name, answer.headers[name] as string);
  }
  for (const name in extra) headers.push(name, extra[name] as string);
  headers.push('content-length', String(Buffer.byteLength(answer.body)));
  if (close) headers.push('connection', 'close');
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}

function handle(
  req: IncomingMessage,
  res: ServerResponse,
  endpoint: FormEndpoint,
  options: RawFormRoutesOptions,
): void {
  const { maxBodyBytes, headers } = options;
  const declared = Number(req.headers['content-length']);
  if (declared > maxBodyBytes) {
    send(res, tooLarge(), headers, true);
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (chunk: Buffer) => {
    if (refused) return;
    size += chunk.length;
    if (size > maxBodyBytes) {
      refused = true;
      send(res, tooLarge(), headers, true);
      return;
    }
    chunks.push(chunk);
  });
  req.on('error', () => res.destroy());
  req.on('end', () => {
    if (refused) return;
    const body = chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
    endpoint
      .handle({
        contentType: req.headers['content-type'],
        body,
        authorization: req.headers.authorization,
        address: req.socket.remoteAddress ?? 'unknown',
        ...(typeof req.headers.origin === 'string' ? { origin: req.headers.origin } : {}),
      })
      .then(
        (answer) => send(res, answer, headers),
        () => send(res, serverError(), headers),
      );
  });
}

/**
 * Serves OAuth form endpoints (token, introspection, revocation) straight from the node:https server, in front of the
 * framework (ADR 0001): POSTs to exactly one of `routes`' paths go to that framework-free endpoint with a bounded raw
 * body; every other request goes on to the listener's fastify handler unchanged. Server-level defences (TLS 1.3 only,
 * header and request timeouts, header size) still apply; the listener-wide response headers are added here. The
 * fastify routes stay registered for `inject` and for paths with a query string.
 *
 * @example
 * serveRawFormRoutes(app.server, {
 *   routes: { '/oauth2/token': token, '/oauth2/introspect': introspection },
 *   maxBodyBytes: 8192,
 *   headers: { 'x-content-type-options': 'nosniff' },
 * });
 */
export function serveRawFormRoutes(server: Server, options: RawFormRoutesOptions): void {
  const listeners = server.listeners('request') as RequestListener[];
  const framework = listeners[0];
  if (listeners.length !== 1 || framework === undefined) {
    throw new GatehouseError('ERR_INTERNAL', { detail: 'expected exactly one request listener on the server' });
  }
  const routes = new Map(Object.entries(options.routes));
  server.removeListener('request', framework);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const endpoint = req.method === 'POST' ? routes.get(req.url as string) : undefined;
    if (endpoint !== undefined) handle(req, res, endpoint, options);
    else framework(req, res);
  });
}
