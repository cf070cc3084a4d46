import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { MemoryLogger } from '../../src/core/index.js';
import { createHttpsServer, type HttpsServer } from '../../src/http/index.js';
import { presentCertificate, selfSigned, type CraftedCert } from '../support/crafted_certs.js';
import { testCertificate } from '../support/test_tls.js';

// The client-certificate check runs in the server's secureConnection handler, outside any request: a throw there
// (a parser meeting bytes it did not expect) used to end the process. It must end only that connection, logged.
describe('createHttpsServer clientAuth: a check that throws', () => {
  const logger = new MemoryLogger();
  let server: HttpsServer;
  let port: number;
  let client: CraftedCert;
  let failNext = false;

  beforeAll(async () => {
    client = await selfSigned([]);
    server = createHttpsServer({
      name: 'probe',
      http: loadConfig({ overrides: {} }).http,
      ...testCertificate(),
      logger,
      clientAuth: {
        ca: client.certPem,
        check: () => {
          if (failNext) {
            failNext = false;
            throw new Error('Zero buffer length');
          }
          return undefined;
        },
      },
    });
    server.app.get('/', async () => ({ hello: 'world' }));
    port = (await server.listen('127.0.0.1', 0)).port;
  });
  afterAll(async () => server?.close());

  it('closes that connection with an error line and goes on serving the next one', async () => {
    failNext = true;
    expect(await presentCertificate(port, client)).toEqual({ handshake: true, answer: '' });
    expect(logger.lines.filter((l) => l.msg === 'connection closed: its handler failed')).toEqual([
      expect.objectContaining({
        level: 'error',
        listener: 'probe',
        reason: 'connection_handler_failed',
        err: 'Zero buffer length',
      }),
    ]);
    const next = await presentCertificate(port, client);
    expect(next.answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(next.answer).toContain('{"hello":"world"}');
  });
});
