import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startGatehouse,
  startStandaloneComponent,
  type RunningComponent,
  type RunningGatehouse,
} from '../../src/app/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { decodeJwt, sha256Base64url } from '../../src/crypto/index.js';
import { newKeyAndCsr } from '../../src/mesh/index.js';
import { callJson, type CallInit } from '../support/https.js';
import { tempDir } from '../support/tmp.js';

const API = 'https://orders.example/api';

/**
 * Components started alone (`startStandaloneComponent`, what `gatehouse identity|kms|ca --config FILE` runs) on the
 * SQLite data directory of an in-process `gatehouse up` that keeps running beside them as the admin node.
 */
describe('components started alone beside gatehouse up', () => {
  const tmp = tempDir();
  const cleanups: Array<() => Promise<void> | void> = [];
  let config: Config;
  let running: RunningGatehouse;
  let bundlePem: string;
  let adminToken: string;
  let td: string;

  const agentWith = (material?: { chainPem: string; keyPem: string }): Agent => {
    const agent = new Agent({
      connect: {
        ca: bundlePem,
        minVersion: 'TLSv1.3',
        servername: 'localhost',
        ...(material ? { cert: material.chainPem, key: material.keyPem } : {}),
      },
    });
    cleanups.push(() => agent.close());
    return agent;
  };
  let plain: Agent;
  const call = (url: string, init: CallInit & { agent?: Agent } = {}) => callJson(init.agent ?? plain, url, init);
  const admin = async (path: string, json: unknown) => {
    const res = await call(`${running.endpoints.admin}${path}`, {
      headers: { authorization: `Bearer ${adminToken}` },
      json,
    });
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    return res.body;
  };
  /** An X.509-SVID for `spiffeId` from the platform CA. */
  const svid = async (spiffeId: string) => {
    const { keyPem, csrPem } = await newKeyAndCsr();
    return { chainPem: running.core.authority.issueSvid({ csrPem, spiffeId }).chainPem, keyPem };
  };
  const alone = async (component: 'identity' | 'kms' | 'ca', logger = new MemoryLogger()) => {
    const started: RunningComponent = await startStandaloneComponent({
      component,
      config,
      rootKey: {},
      clock: systemClock,
      logger,
    });
    cleanups.push(() => started.stop());
    return started;
  };

  beforeAll(async () => {
    config = loadConfig({
      overrides: {
        dataDir: join(tmp.dir, 'data'),
        listen: {
          admin: { port: 0 },
          kms: { port: 0 },
          identity: { port: 0 },
          identityMtls: { port: 0 },
          ca: { port: 0 },
          gateway: { port: 0 },
        },
        mesh: { demo: { enabled: false } },
      },
    });
    running = await startGatehouse({ config, rootKey: {}, clock: systemClock, logger: new MemoryLogger() });
    cleanups.push(() => running.stop());
    bundlePem = readFileSync(running.endpoints.trustBundle, 'utf8');
    adminToken = readFileSync(running.paths.adminToken, 'utf8').trim();
    td = running.endpoints.trustDomain;
    plain = agentWith();
  });

  afterAll(async () => {
    while (cleanups.length) await cleanups.pop()?.();
    tmp.remove();
  });

  it('identity alone serves the RFC 8705 mTLS listener: aliases in its metadata, certificate-bound tokens', async () => {
    await admin('/v1/identity/apis', { audience: API, scopes: [{ name: 'orders:read', description: 'read orders' }] });
    const orders = `spiffe://${td}/ns/demo/sa/orders`;
    const created = await admin('/v1/identity/clients', {
      name: 'orders-workload',
      grant_types: ['client_credentials'],
      scope: 'orders:read',
      tls_client_auth_san_uri: orders,
    });
    const clientId = created.client_id as string;

    const identity = await alone('identity');
    expect(identity.mtlsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(identity.mtlsUrl).not.toBe(identity.url);
    expect(identity.mtlsUrl).not.toBe(running.endpoints.identityMtls);
    const mtls = identity.mtlsUrl as string;
    const metadata = await call(`${identity.url}/.well-known/oauth-authorization-server`);
    expect(metadata.status).toBe(200);
    expect(metadata.body.mtls_endpoint_aliases).toEqual({
      token_endpoint: `${mtls}/oauth2/token`,
      introspection_endpoint: `${mtls}/oauth2/introspect`,
      revocation_endpoint: `${mtls}/oauth2/revoke`,
      device_authorization_endpoint: `${mtls}/oauth2/device_authorization`,
    });
    expect(metadata.body.token_endpoint_auth_methods_supported).toContain('tls_client_auth');
    expect(metadata.body.tls_client_certificate_bound_access_tokens).toBe(true);

    const material = await svid(orders);
    const form = `grant_type=client_credentials&client_id=${clientId}`;
    const bound = await call(`${mtls}/oauth2/token`, { agent: agentWith(material), form });
    expect(bound.status, JSON.stringify(bound.body)).toBe(200);
    const claims = decodeJwt(bound.body.access_token).payload;
    expect(claims).toMatchObject({ sub: clientId, aud: API, scope: 'orders:read', iss: identity.issuer });
    expect(claims['cnf']).toEqual({ 'x5t#S256': sha256Base64url(new X509Certificate(material.chainPem).raw) });
    // Without the registered SVID: no token, on the mTLS listener or the main one.
    const intruder = await svid(`spiffe://${td}/ns/demo/sa/intruder`);
    for (const refused of [
      await call(`${mtls}/oauth2/token`, { agent: agentWith(intruder), form }),
      await call(`${mtls}/oauth2/token`, { form }),
      await call(`${identity.url}/oauth2/token`, { form }),
    ]) {
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_client');
    }
    // The KMS and CA alone have no second listener.
    expect((await alone('kms')).mtlsUrl).toBeUndefined();
  });
});
