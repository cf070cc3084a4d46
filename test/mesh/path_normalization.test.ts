import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import {
  createMtlsServer,
  type AuthorizationPolicy,
  type IdentitySource,
  type MtlsListener,
  type Sidecar,
} from '../../src/mesh/index.js';
import { closeServer, echoApp, id, identityFor, meshCa, sidecarFor, TD } from './helpers.js';

const policies: AuthorizationPolicy[] = [
  { name: 'allow-all', action: 'ALLOW', rules: [{}] },
  { name: 'deny-admin', action: 'DENY', rules: [{ to: [{ paths: ['/admin', '/admin/*'] }] }] },
];

/** Forms of /admin/x that a raw-path match misses (Istio CVE-2019-9901 class). */
const BYPASSES = ['//admin/x', '/./admin/x', '/%61dmin/x', '/x/../admin/x', '/%2e%2e/admin/x', '/admin/./x', '/admin'];
const INVALID = ['/%zz/admin/x', 'http://backend/admin/x', '*'];

/**
 * One request over mTLS with the caller's SVID, the target written byte for byte (an HTTP client would normalize
 * dot segments itself); resolves with the status and body.
 */
function raw(port: number, caller: IdentitySource, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const material = caller.current!;
    const socket = connect({
      host: '127.0.0.1',
      port,
      cert: material.chainPem,
      key: material.keyPem,
      ca: caller.bundle.pem,
      checkServerIdentity: () => undefined,
      minVersion: 'TLSv1.3',
    });
    let text = '';
    socket.on('secureConnect', () =>
      socket.write(`GET ${target} HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n`),
    );
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/** The body of a chunked or plain response, as JSON. */
function json(body: string): Record<string, unknown> {
  const start = body.indexOf('{');
  return JSON.parse(body.slice(start, body.lastIndexOf('}') + 1)) as Record<string, unknown>;
}

// Policies used to match the raw request target and the raw one went to the app: //admin/x, /./admin/x, /%61dmin/x
// and /x/../admin/x slipped past a DENY on /admin/* and reached the app's /admin/x. Now the target is normalized once:
// the policies judge it and the app receives it; a target that cannot be normalized is a 400.
describe('request targets are normalized before policies, and forwarded normalized', () => {
  let ca: Awaited<ReturnType<typeof meshCa>>;
  let app: Awaited<ReturnType<typeof echoApp>>;
  let sidecar: Sidecar;
  let caller: IdentitySource;
  let library: MtlsListener;
  let libraryPort: number;
  const seenByLibrary: string[] = [];

  beforeAll(async () => {
    ca = await meshCa();
    app = await echoApp('backend');
    ({ sidecar } = await sidecarFor(ca.client, 'backend', app.address, { policies }));
    caller = await identityFor(ca.client, id('frontend'));
    library = createMtlsServer({
      identity: sidecar.identity,
      trustDomain: TD,
      logger: new MemoryLogger(),
      policies,
      handler: (req, res) => {
        seenByLibrary.push(req.url ?? '');
        res.end('ok');
      },
    });
    libraryPort = (await library.listen('127.0.0.1', 0)).port;
  });
  afterAll(async () => {
    caller?.stop();
    await library?.close();
    await sidecar?.stop();
    if (app) await closeServer(app.server);
  });

  /** Sends each target through the sidecar: all answered `status` with a problem `body`, none reaching the app. */
  async function refusedBySidecar(targets: readonly string[], status: number, body: object): Promise<void> {
    for (const target of targets) {
      const before = app.requests.length;
      const res = await raw(sidecar.inboundAddress.port, caller, target);
      expect(res.status, target).toBe(status);
      expect(json(res.body), target).toMatchObject(body);
      expect(app.requests.length, target).toBe(before);
    }
  }

  it('sidecar: denies every bypass form of /admin/x with 403 and the app never sees it', async () => {
    await refusedBySidecar(BYPASSES, 403, { code: 'ERR_MESH_FORBIDDEN', reason: 'deny_matched' });
  });

  it('sidecar: answers 400 problem+json to a target it cannot normalize', async () => {
    await refusedBySidecar(INVALID, 400, { code: 'ERR_HTTP_BAD_REQUEST', reason: 'invalid_target' });
  });

  it('sidecar: passes a normal request, the app receiving the normalized target', async () => {
    const plain = await raw(sidecar.inboundAddress.port, caller, '/hello?x=1');
    expect(plain.status).toBe(200);
    expect(json(plain.body)).toMatchObject({ url: '/hello?x=1' });
    const messy = await raw(sidecar.inboundAddress.port, caller, '//orders/./7/../8?q=%7e%3d');
    expect(messy.status).toBe(200);
    expect(json(messy.body)).toMatchObject({ url: '/orders/8?q=%7e%3d' });
  });

  it('library mode: the same denials and 400s, and the handler gets the normalized req.url', async () => {
    const port = libraryPort;
    for (const target of BYPASSES) expect((await raw(port, caller, target)).status, target).toBe(403);
    for (const target of INVALID) expect((await raw(port, caller, target)).status, target).toBe(400);
    expect(seenByLibrary).toEqual([]);
    expect((await raw(port, caller, '/x/../public/%61')).status).toBe(200);
    expect(seenByLibrary).toEqual(['/public/a']);
  });
});
