import { execFile } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { meshTokenBinding } from '../../src/app/compose.js';
import type { RunningGatehouse } from '../../src/app/index.js';
import { InProcessCaClient } from '../../src/app/mesh_ca_client.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { decodeJwt, sha256Base64url } from '../../src/crypto/index.js';
import { Sidecar, type SvidMaterial } from '../../src/mesh/index.js';
import { createCsr, Revocations } from '../../src/pki/index.js';
import { createVerifier, nodeHttpVerifier, type Verifier } from '../../src/resource/index.js';
import { closeServer, echoApp } from '../mesh/helpers.js';
import { bundleAgent, sClient, callJson, type CallInit } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse } from '../support/up.js';

const API = 'https://orders.example/api';
const tmp = tempDir();
const cleanups: Array<() => Promise<void> | void> = [];
let running: RunningGatehouse;
let bundlePem: string;
let adminToken: string;
let td: string;
const workload = (sa: string) => `spiffe://${td}/ns/demo/sa/${sa}`;

/** An undici agent trusting the platform bundle, presenting `svid` when given. */
function agentWith(svid?: SvidMaterial): Agent {
  const agent = bundleAgent(bundlePem, svid);
  cleanups.push(() => agent.close());
  return agent;
}

let plainAgent: Agent;

const call = (url: string, init: CallInit & { agent?: Agent } = {}) => callJson(init.agent ?? plainAgent, url, init);

const admin = (path: string, json: unknown) =>
  call(`${running.endpoints.admin}${path}`, { headers: { authorization: `Bearer ${adminToken}` }, json });

const leafThumbprint = (svid: SvidMaterial) => sha256Base64url(new X509Certificate(svid.chainPem).raw);
const cnfOf = (token: string) => (decodeJwt(token).payload['cnf'] as Record<string, string> | undefined)?.['x5t#S256'];

let client: InProcessCaClient;
/** A sidecar for workload `sa` (its SVID is also the credential tests present directly). */
async function sidecar(sa: string, app: string, extra: Partial<Parameters<typeof Sidecar.start>[0]> = {}) {
  const started = await Sidecar.start({
    client,
    credential: () => `join:${workload(sa)}`,
    trustDomain: td,
    clock: systemClock,
    logger: new MemoryLogger(),
    mode: 'STRICT',
    policies: [],
    inbound: { host: '127.0.0.1', port: 0, app },
    ...extra,
  });
  cleanups.push(() => started.stop());
  return started;
}

let orders: Sidecar; // holds spiffe://td/ns/demo/sa/orders, the tls_client_auth client's registered SAN URI
let intruder: Sidecar; // another valid SVID of the same trust domain
let backend: Sidecar; // in front of the echo app, with bindTokens
let mtlsClientId: string;
let secretClient: { id: string; basic: string };

async function boundToken(svid: SvidMaterial | undefined, form: string, headers: Record<string, string> = {}) {
  return call(`${running.endpoints.identityMtls}/oauth2/token`, { agent: agentWith(svid), form, headers });
}

beforeAll(async () => {
  ({ running, bundlePem, adminToken } = await startTestGatehouse({ dataDir: tmp.dir }));
  cleanups.push(() => running.stop());
  td = running.endpoints.trustDomain;
  plainAgent = agentWith();
  const api = await admin('/v1/identity/apis', {
    audience: API,
    scopes: [{ name: 'orders:read', description: 'read orders' }],
  });
  expect(api.status, JSON.stringify(api.body)).toBe(201);
  const created = await admin('/v1/identity/clients', {
    name: 'orders-workload',
    grant_types: ['client_credentials'],
    scope: 'orders:read',
    tls_client_auth_san_uri: workload('orders'),
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(created.body.client.auth_method).toBe('tls_client_auth');
  expect(created.body.client_secret).toBeUndefined();
  mtlsClientId = created.body.client_id as string;
  const secret = await admin('/v1/identity/clients', {
    name: 'secret-client',
    grant_types: ['client_credentials'],
    scope: 'orders:read',
  });
  expect(secret.status).toBe(201);
  secretClient = {
    id: secret.body.client_id,
    basic: `Basic ${Buffer.from(`${secret.body.client_id}:${secret.body.client_secret}`).toString('base64')}`,
  };

  const { authority } = running.core;
  client = new InProcessCaClient({
    authority,
    revocations: new Revocations(running.core.records, systemClock, authority.maxSvidTtlMs),
    clock: systemClock,
    redeem: async (credential) => credential.replace(/^join:/, ''),
  });
  const app = await echoApp('orders-api');
  cleanups.push(() => closeServer(app.server));
  backend = await sidecar('orders-api', app.address, { tokenBinding: meshTokenBinding() });
  const upstreams = [
    { name: 'orders-api', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: workload('orders-api') },
  ];
  orders = await sidecar('orders', app.address, { outbound: { host: '127.0.0.1', port: 0, upstreams } });
  intruder = await sidecar('intruder', app.address, { outbound: { host: '127.0.0.1', port: 0, upstreams } });
});

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()?.();
  tmp.remove();
});

describe('RFC 8705: the identity mTLS listener', () => {
  it('is listed in endpoints.json and published as mtls_endpoint_aliases in the metadata', async () => {
    const endpoints = JSON.parse(readFileSync(join(tmp.dir, 'endpoints.json'), 'utf8'));
    expect(endpoints.identityMtls).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(endpoints.identityMtls).not.toBe(endpoints.identity);
    const mtls = endpoints.identityMtls as string;
    const metadata = await call(`${running.endpoints.identity}/.well-known/oauth-authorization-server`);
    expect(metadata.status).toBe(200);
    expect(metadata.body.mtls_endpoint_aliases).toEqual({
      token_endpoint: `${mtls}/oauth2/token`,
      introspection_endpoint: `${mtls}/oauth2/introspect`,
      revocation_endpoint: `${mtls}/oauth2/revoke`,
      device_authorization_endpoint: `${mtls}/oauth2/device_authorization`,
    });
    expect(metadata.body.tls_client_certificate_bound_access_tokens).toBe(true);
    expect(metadata.body.token_endpoint_auth_methods_supported).toContain('tls_client_auth');
    expect(metadata.body.token_endpoint).toBe(`${running.endpoints.identity}/oauth2/token`);
  });

  it('serves only the protocol endpoints: no sign-in pages, no metadata', async () => {
    const agent = agentWith(orders.identity.current);
    const mtls = running.endpoints.identityMtls;
    expect((await call(`${mtls}/oauth2/authorize?response_type=code`, { agent })).status).toBe(404);
    expect((await call(`${mtls}/oauth2/device`, { agent })).status).toBe(404);
    expect((await call(`${mtls}/.well-known/oauth-authorization-server`, { agent })).status).toBe(404);
  });

  it('asks for a client certificate on the mTLS listener only, never on the sign-in listener (openssl s_client)', async () => {
    const portOf = (url: string) => Number(new URL(url).port);
    const mtls = await sClient(portOf(running.endpoints.identityMtls), [
      '-tls1_3',
      '-CAfile',
      running.endpoints.trustBundle,
    ]);
    expect(mtls.output).toContain('Acceptable client certificate CA names');
    const main = await sClient(portOf(running.endpoints.identity), [
      '-tls1_3',
      '-CAfile',
      running.endpoints.trustBundle,
    ]);
    expect(main.output).toContain('No client certificate CA names sent');
  });

  it('tls_client_auth with the registered SVID gets an access token bound to that certificate', async () => {
    const svid = orders.identity.current!;
    const res = await boundToken(svid, `grant_type=client_credentials&client_id=${mtlsClientId}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const claims = decodeJwt(res.body.access_token).payload;
    expect(claims).toMatchObject({ sub: mtlsClientId, client_id: mtlsClientId, aud: API, scope: 'orders:read' });
    expect(claims['cnf']).toEqual({ 'x5t#S256': leafThumbprint(svid) });

    const introspected = await call(`${running.endpoints.identityMtls}/oauth2/introspect`, {
      agent: agentWith(svid),
      form: `client_id=${mtlsClientId}&token=${res.body.access_token}`,
    });
    expect(introspected.status, JSON.stringify(introspected.body)).toBe(200);
    expect(introspected.body).toMatchObject({ active: true, cnf: { 'x5t#S256': leafThumbprint(svid) } });
  });

  it('refuses tls_client_auth without a certificate, with another SVID, and on the plain listener (400)', async () => {
    const form = `grant_type=client_credentials&client_id=${mtlsClientId}`;
    for (const res of [
      await boundToken(undefined, form),
      await boundToken(intruder.identity.current, form),
      await call(`${running.endpoints.identity}/oauth2/token`, { form }),
    ]) {
      // no Authorization header: 400 without a challenge (RFC 6749 §5.2), which clients read as the body's error
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
    // client_id is required: a certificate alone names no client
    const anonymous = await boundToken(orders.identity.current, 'grant_type=client_credentials');
    expect(anonymous.status).toBe(400);
    expect(anonymous.body.error).toBe('invalid_client');
  });

  it('binds the tokens of any client that authenticates on the mTLS listener with a certificate', async () => {
    const svid = intruder.identity.current!;
    const withCert = await boundToken(svid, 'grant_type=client_credentials', { authorization: secretClient.basic });
    expect(withCert.status, JSON.stringify(withCert.body)).toBe(200);
    expect(cnfOf(withCert.body.access_token)).toBe(leafThumbprint(svid));
    const withoutCert = await boundToken(undefined, 'grant_type=client_credentials', {
      authorization: secretClient.basic,
    });
    expect(withoutCert.status).toBe(200);
    expect(cnfOf(withoutCert.body.access_token)).toBeUndefined();
  });

  it('works with curl presenting the SVID (a real TLS peer)', async () => {
    const svid = orders.identity.current!;
    const certFile = join(tmp.dir, 'orders.pem');
    const keyFile = join(tmp.dir, 'orders.key');
    writeFileSync(certFile, svid.chainPem);
    writeFileSync(keyFile, svid.keyPem, { mode: 0o600 });
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        'curl',
        [
          '-sS',
          '--tlsv1.3',
          '--cacert',
          running.endpoints.trustBundle,
          '--cert',
          certFile,
          '--key',
          keyFile,
          '-d',
          `grant_type=client_credentials&client_id=${mtlsClientId}`,
          `${running.endpoints.identityMtls}/oauth2/token`,
        ],
        { timeout: 20_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout)),
      ),
    );
    const body = JSON.parse(output) as { access_token: string };
    expect(cnfOf(body.access_token)).toBe(leafThumbprint(svid));
  });
});

describe('RFC 8705: bound tokens at the resource server', () => {
  let server: Server;
  let url: string;
  let verifier: Verifier;

  beforeAll(async () => {
    verifier = createVerifier({
      issuer: running.endpoints.identity,
      audience: API,
      jwks: { url: `${running.endpoints.identity}/.well-known/jwks.json`, ca: bundlePem },
      revocation: { mode: 'off' },
      logger: new MemoryLogger(),
    });
    await verifier.start();
    const cert = await running.core.authority.issueListenerCertificate({ component: 'orders-api', ttlMs: 3_600_000 });
    server = createServer(
      {
        cert: cert.certPem,
        key: cert.keyPem,
        ca: bundlePem,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
      },
      nodeHttpVerifier(verifier, { allOf: ['orders:read'] }, (_req, res, principal) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ sub: principal.sub }));
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    cleanups.push(() => verifier.close());
  });

  it('accepts a bound token with its certificate, refuses it with another SVID or none (invalid_token)', async () => {
    const svid = orders.identity.current!;
    const token = (await boundToken(svid, `grant_type=client_credentials&client_id=${mtlsClientId}`)).body
      .access_token as string;
    const auth = { authorization: `Bearer ${token}` };
    const ok = await call(url, { agent: agentWith(svid), headers: auth });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.sub).toBe(mtlsClientId);
    // the verified token is cached now: the binding is still checked on the hit
    for (const agent of [agentWith(intruder.identity.current), agentWith()]) {
      const refused = await call(url, { agent, headers: auth });
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toContain('error="invalid_token"');
    }
    const again = await call(url, { agent: agentWith(svid), headers: auth });
    expect(again.status).toBe(200);
  });

  it('keeps accepting unbound bearer tokens without a client certificate', async () => {
    const res = await call(`${running.endpoints.identity}/oauth2/token`, {
      headers: { authorization: secretClient.basic },
      form: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(200);
    const ok = await call(url, { headers: { authorization: `Bearer ${res.body.access_token}` } });
    expect(ok.status).toBe(200);
    expect(ok.body.sub).toBe(secretClient.id);
  });
});

describe("RFC 8705: bound tokens at the platform's own APIs", () => {
  const PLATFORM = 'urn:gatehouse:platform';
  let platformClient: { id: string; basic: string };

  beforeAll(async () => {
    const api = await admin('/v1/identity/apis', {
      audience: PLATFORM,
      scopes: [
        { name: 'kms:encrypt:orders', description: 'encrypt with orders' },
        { name: 'revocations:read', description: 'read the revocation feed' },
      ],
    });
    expect(api.status, JSON.stringify(api.body)).toBe(201);
    const key = await call(`${running.endpoints.kms}/v1/transit/keys/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
      json: {},
    });
    expect(key.status, JSON.stringify(key.body)).toBeLessThan(300);
    const created = await admin('/v1/identity/clients', {
      name: 'platform-caller',
      grant_types: ['client_credentials'],
      scope: 'kms:encrypt:orders revocations:read',
      audiences: [PLATFORM],
      spiffe_ids: [workload('enrollee')],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    platformClient = {
      id: created.body.client_id,
      basic: `Basic ${Buffer.from(`${created.body.client_id}:${created.body.client_secret}`).toString('base64')}`,
    };
  });

  /** A token for the platform bound to `svid` (taken on the mTLS listener with it), and an unbound one. */
  async function platformTokens(svid: SvidMaterial) {
    const bound = await boundToken(svid, 'grant_type=client_credentials', { authorization: platformClient.basic });
    expect(bound.status, JSON.stringify(bound.body)).toBe(200);
    expect(cnfOf(bound.body.access_token)).toBe(leafThumbprint(svid));
    const bearer = await call(`${running.endpoints.identity}/oauth2/token`, {
      headers: { authorization: platformClient.basic },
      form: 'grant_type=client_credentials',
    });
    expect(bearer.status).toBe(200);
    return { bound: bound.body.access_token as string, bearer: bearer.body.access_token as string };
  }

  it('the KMS accepts a bound token only on a connection with its certificate', async () => {
    const svid = intruder.identity.current!;
    const { bound, bearer } = await platformTokens(svid);
    const encrypt = (token: string, agent: Agent) =>
      call(`${running.endpoints.kms}/v1/transit/encrypt/orders`, {
        agent,
        headers: { authorization: `Bearer ${token}` },
        json: { plaintext: Buffer.from('x').toString('base64') },
      });
    expect((await encrypt(bound, agentWith(svid))).status).toBe(200);
    expect((await encrypt(bound, agentWith())).status).toBe(401);
    expect((await encrypt(bound, agentWith(orders.identity.current))).status).toBe(401);
    expect((await encrypt(bearer, agentWith())).status).toBe(200);
  });

  it('the revocation feed and CA enrollment refuse a bound token (they never see the certificate)', async () => {
    const { bound, bearer } = await platformTokens(intruder.identity.current!);
    const feed = (token: string) =>
      call(`${running.endpoints.identity}/revocations`, { headers: { authorization: `Bearer ${token}` } });
    expect((await feed(bearer)).status).toBe(200);
    const refused = await feed(bound);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toContain('error="invalid_token"');
    const sign = (token: string) =>
      call(`${running.endpoints.ca}/v1/ca/sign`, {
        headers: { authorization: `Bearer ${token}` },
        json: {
          csr: createCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
          spiffe_id: workload('enrollee'),
        },
      });
    const enrolled = await sign(bearer);
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(200);
    const denied = await sign(bound);
    expect(denied.status).toBe(401);
    expect(denied.body.code).toBe('ERR_PKI_UNAUTHENTICATED');
  });
});

describe('RFC 8705: bound tokens through the mesh', () => {
  it('passes a token bound to the caller, with XFCC Hash equal to its x5t#S256; refuses it from another caller', async () => {
    const svid = orders.identity.current!;
    const token = (await boundToken(svid, `grant_type=client_credentials&client_id=${mtlsClientId}`)).body
      .access_token as string;
    const headers = { host: 'orders-api', authorization: `Bearer ${token}` };
    const ok = await call(`http://127.0.0.1:${orders.outboundAddress!.port}/orders/7`, { headers });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const xfcc = String(ok.body.headers['x-forwarded-client-cert']);
    const hash = /;Hash=([^;]+);/.exec(xfcc)?.[1];
    expect(hash).toBe(cnfOf(token));
    expect(xfcc).toBe(`By=${workload('orders-api')};Hash=${leafThumbprint(svid)};URI=${workload('orders')}`);

    const stolen = await call(`http://127.0.0.1:${intruder.outboundAddress!.port}/orders/7`, { headers });
    expect(stolen.status).toBe(401);
    expect(stolen.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(stolen.body.code).toBe('ERR_TOKEN_INVALID');

    const unbound = await call(`${running.endpoints.identity}/oauth2/token`, {
      headers: { authorization: secretClient.basic },
      form: 'grant_type=client_credentials',
    });
    const passed = await call(`http://127.0.0.1:${intruder.outboundAddress!.port}/orders/8`, {
      headers: { host: 'orders-api', authorization: `Bearer ${unbound.body.access_token}` },
    });
    expect(passed.status).toBe(200);
    expect(passed.body.url).toBe('/orders/8');
  });
});
