import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, loadConfig } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { SessionTicketKeys } from '../../src/crypto/index.js';
import { Gateway, createGatewayServer, type GatewayServer } from '../../src/gateway/index.js';
import { createHttpsServer, type HttpsServer } from '../../src/http/index.js';
import { testCertificate } from '../support/test_tls.js';

/**
 * One TLS 1.3 connection offering `session` (a ticket from an earlier one): says whether the server resumed it, and
 * returns the ticket this connection received (TLS 1.3 tickets arrive after the handshake, so it sends a request).
 */
function visit(port: number, session?: Buffer): Promise<{ reused: boolean; ticket: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let reused = false;
    let ticket: Buffer | undefined;
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      ...(session ? { session } : {}),
    });
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.on('session', (t: Buffer) => (ticket = t));
    socket.on('data', () => {});
    socket.once('close', () => resolve({ reused, ticket }));
    socket.once('error', reject);
  });
}

function ticketOf(visited: { ticket: Buffer | undefined }): Buffer {
  if (!visited.ticket) throw new Error('the server sent no session ticket');
  return visited.ticket;
}

/** What a listener's session ticket keys must do, whichever server holds them. */
function ticketKeyRules(start: (keys: SessionTicketKeys) => Promise<{ port: number; swap(): void }>): void {
  const keys = new SessionTicketKeys();
  let port: number;
  let swap: () => void;

  beforeAll(async () => {
    ({ port, swap } = await start(keys));
  });

  it('resumes a session under the same keys, and across a certificate swap', async () => {
    const first = await visit(port);
    expect(first.reused).toBe(false);
    expect((await visit(port, ticketOf(first))).reused).toBe(true);
    swap();
    expect((await visit(port, ticketOf(first))).reused).toBe(true);
  });

  it('no longer resumes a ticket issued before a rotation; tickets issued after it resume, also after a swap', async () => {
    const before = await visit(port);
    keys.rotate();
    const after = await visit(port, ticketOf(before));
    expect(after.reused).toBe(false);
    expect((await visit(port, ticketOf(after))).reused).toBe(true);
    // The swap builds its context from the rotated keys, not from the ones the server started with.
    swap();
    expect((await visit(port, ticketOf(after))).reused).toBe(true);
    expect((await visit(port, ticketOf(before))).reused).toBe(false);
  });

  it('refuses a rotation period under a second', () => {
    expect(() => keys.start(999)).toThrow(expect.objectContaining({ code: 'ERR_TLS_CONFIG' }));
  });
}

describe('session ticket keys of a platform listener (createHttpsServer)', () => {
  let server: HttpsServer;
  afterAll(async () => server?.close());

  ticketKeyRules(async (ticketKeys) => {
    server = createHttpsServer({
      name: 'probe',
      http: loadConfig({ overrides: {} }).http,
      ...testCertificate(),
      ticketKeys,
      logger: new MemoryLogger(),
    });
    const { port } = await server.listen('127.0.0.1', 0);
    return {
      port,
      swap: () => {
        const next = testCertificate({ fresh: true });
        server.setCertificate(next.certPem, next.keyPem);
      },
    };
  });
});

describe('session ticket keys of the gateway listener (createGatewayServer)', () => {
  let server: GatewayServer;
  afterAll(async () => server?.close());

  ticketKeyRules(async (ticketKeys) => {
    const config = configSchema.parse({});
    const gateway = new Gateway({ config: config.gateway, clock: systemClock, logger: new MemoryLogger() });
    server = createGatewayServer({
      gateway,
      http: config.http,
      slowClients: config.gateway.slowClients,
      ...testCertificate(),
      ticketKeys,
      logger: new MemoryLogger(),
    });
    const { port } = await server.listen('127.0.0.1', 0);
    return {
      port,
      swap: () => {
        const next = testCertificate({ fresh: true });
        server.setCertificate(next.certPem, next.keyPem);
      },
    };
  });
});

it('http.ticketKeyRotation is 1 h by default and at least 1 s', () => {
  expect(loadConfig({ overrides: {} }).http.ticketKeyRotation).toBe(3_600_000);
  expect(() => loadConfig({ overrides: { http: { ticketKeyRotation: '500ms' } } })).toThrow(
    /http\.ticketKeyRotation.*at least 1s/,
  );
});
