import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Agent, request } from 'undici';
import { configSchema, type ConfigInput } from '../../src/config/index.js';
import { silentLogger, systemClock, type Clock, type Logger } from '../../src/core/index.js';
import {
  Gateway,
  createGatewayServer,
  type Authenticator,
  type GatewayOptions,
  type GatewayServer,
} from '../../src/gateway/index.js';
import { testCertificate } from '../support/test_tls.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test bodies are read freely
export type Json = any;

export { testCertificate };

/** A plain-HTTP backend on 127.0.0.1:0; by default it echoes method, url and headers as JSON. */
export async function startBackend(
  handler?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; server: Server; hits: number; close(): Promise<void> }> {
  const state = { hits: 0 };
  const server = createServer((req, res) => {
    state.hits += 1;
    if (handler) return handler(req, res);
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'keep-alive, x-hop',
        'x-hop': 'x',
        'x-end': 'kept',
      });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    get hits() {
      return state.hits;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Answers with 32 MiB written with backpressure: far more than the socket buffers between a backend and a client
 * that reads nothing (for slow-reader tests).
 */
export function sendBigAnswer(res: ServerResponse): void {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sent = 0;
  const write = (): void => {
    while (sent < 512) {
      sent += 1;
      if (!res.write(chunk)) return void res.once('drain', write);
    }
    res.end();
  };
  write();
  res.on('error', () => {});
}

/** The `gateway` section as the schema fills it. */
export function gatewayConfig(gateway: ConfigInput['gateway']) {
  return configSchema.parse({ gateway }).gateway;
}

export interface RunningGateway {
  url: string;
  port: number;
  gateway: Gateway;
  server: GatewayServer;
  agent: Agent;
  close(): Promise<void>;
}

/** Starts a gateway over TLS 1.3 on 127.0.0.1:0 with a client agent that trusts it. */
export async function startGateway(
  gateway: ConfigInput['gateway'],
  options: {
    authenticator?: Authenticator;
    clock?: Clock;
    logger?: Logger;
    http?: ConfigInput['http'];
  } & Partial<GatewayOptions> = {},
): Promise<RunningGateway> {
  const { http, ...gatewayOptions } = options;
  const config = configSchema.parse({ gateway, http });
  const { certPem, keyPem } = testCertificate();
  const gw = new Gateway({
    clock: systemClock,
    logger: silentLogger,
    bodyLimit: config.http.bodyLimit,
    ...gatewayOptions,
    config: config.gateway,
  });
  const server = createGatewayServer({
    gateway: gw,
    http: config.http,
    slowClients: config.gateway.slowClients,
    http2: config.gateway.http2,
    certPem,
    keyPem,
    logger: silentLogger,
  });
  const { port } = await server.listen('127.0.0.1', 0);
  const agent = new Agent({ connect: { ca: certPem, servername: 'localhost' } });
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    gateway: gw,
    server,
    agent,
    close: async () => {
      await agent.close();
      await server.close();
    },
  };
}

/** GET (or another method) through the gateway; the body is parsed as JSON when it is JSON. */
export async function call(
  gw: RunningGateway,
  path: string,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Json }> {
  const res = await request(gw.url + path, {
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers ?? {},
    dispatcher: gw.agent,
  });
  const text = await res.body.text();
  const type = String(res.headers['content-type'] ?? '');
  return { status: res.statusCode, headers: res.headers, body: type.includes('json') ? JSON.parse(text) : text };
}

/** An authenticator double: the API key or bearer value names a principal in `table`. */
export function tableAuthenticator(
  table: Record<string, { sub: string; clientId: string; scopes: string[]; roles?: string[]; apiKeyId?: string }>,
): Authenticator & { calls: number } {
  const auth = {
    calls: 0,
    authenticate: async (headers: Record<string, string | string[] | undefined>, kind: 'jwt' | 'api_key') => {
      auth.calls += 1;
      const raw = String(headers['x-api-key'] ?? headers['authorization'] ?? '').replace(/^Bearer /, '');
      const { GatehouseError } = await import('../../src/core/index.js');
      if (raw === '') throw new GatehouseError('ERR_TOKEN_MISSING');
      const p = table[raw];
      if (!p) throw new GatehouseError('ERR_TOKEN_INVALID');
      return {
        kind,
        sub: p.sub,
        clientId: p.clientId,
        scopes: new Set(p.scopes),
        roles: p.roles ?? [],
        ...(p.apiKeyId === undefined ? {} : { apiKeyId: p.apiKeyId }),
      };
    },
  };
  return auth;
}

/** A GET with node:https, which sends `Connection` and other hop-by-hop headers as given (undici filters them). */
export function rawGet(
  gw: RunningGateway,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Json }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: gw.port,
        path,
        headers,
        ca: testCertificate().certPem,
        servername: 'localhost',
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A logger that keeps every line (level, fields, message), children included, for assertions on what was logged. */
export function recordingLogger(): { logger: Logger; lines: Array<{ level: string; msg?: string } & Json> } {
  const lines: Array<{ level: string; msg?: string } & Json> = [];
  const make = (bindings: object): Logger => {
    const at =
      (level: string) =>
      (obj: object, msg?: string): void => {
        lines.push({ ...bindings, ...obj, level, ...(msg === undefined ? {} : { msg }) });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return { logger: make({}), lines };
}
