import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandaloneComponent, type RunningComponent, type RunningGatehouse } from '../../src/app/index.js';
import type { Config } from '../../src/config/index.js';
import { MemoryLogger, isGatehouseError, systemClock } from '../../src/core/index.js';
import { decodeJwt, sha256Base64url } from '../../src/crypto/index.js';
import { RootKey } from '../../src/kms/index.js';
import { newKeyAndCsr } from '../../src/mesh/index.js';
import { bundleAgent, callJson, type CallInit } from '../support/https.js';
import { servedFingerprint, testCertificate } from '../support/test_tls.js';
import { tempDir } from '../support/tmp.js';
import { adminApi, startTestGatehouse, type AdminApi } from '../support/up.js';

const API = 'https://orders.example/api';

const fingerprintOf = (pem: { certPem: string }) => new X509Certificate(pem.certPem).fingerprint256;

/** `code: message` of the error `run` throws (undefined when it returns). */
function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    return isGatehouseError(err) ? `${err.code}: ${err.message}` : String(err);
  }
  return undefined;
}

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
    const agent = bundleAgent(bundlePem, material);
    cleanups.push(() => agent.close());
    return agent;
  };
  let plain: Agent;
  const call = (url: string, init: CallInit & { agent?: Agent } = {}) => callJson(init.agent ?? plain, url, init);
  let admin: AdminApi;
  /** An X.509-SVID for `spiffeId` from the platform CA. */
  const svid = async (spiffeId: string) => {
    const { keyPem, csrPem } = await newKeyAndCsr();
    return { chainPem: running.core.authority.issueSvid({ csrPem, spiffeId }).chainPem, keyPem };
  };
  const alone = async (
    component: 'identity' | 'kms' | 'ca',
    o: {
      logger?: MemoryLogger;
      certificate?: { certPem: string; keyPem: string };
      rootKey?: { env?: string };
      rootKeyCheckEveryMs?: number;
      caRefreshEveryMs?: number;
    } = {},
  ) => {
    const started: RunningComponent = await startStandaloneComponent({
      component,
      config,
      rootKey: o.rootKey ?? {},
      clock: systemClock,
      logger: o.logger ?? new MemoryLogger(),
      ...(o.certificate ? { certificate: o.certificate } : {}),
      ...(o.rootKeyCheckEveryMs === undefined ? {} : { rootKeyCheckEveryMs: o.rootKeyCheckEveryMs }),
      ...(o.caRefreshEveryMs === undefined ? {} : { caRefreshEveryMs: o.caRefreshEveryMs }),
    });
    cleanups.push(() => started.stop());
    return started;
  };

  beforeAll(async () => {
    ({ running, config, bundlePem, adminToken } = await startTestGatehouse({ dataDir: join(tmp.dir, 'data') }));
    cleanups.push(() => running.stop());
    td = running.endpoints.trustDomain;
    plain = agentWith();
    admin = adminApi(plain, running.endpoints.admin, adminToken);
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
      expect(refused.status).toBe(400); // no Authorization header: no challenge (RFC 6749 §5.2)
      expect(refused.body.error).toBe('invalid_client');
    }
    // The KMS and CA alone have no second listener.
    expect((await alone('kms')).mtlsUrl).toBeUndefined();
  });

  it('swaps a replaced --cert/--key pair into both identity listeners; a pair that does not check changes nothing', async () => {
    const first = testCertificate({ fresh: true });
    const second = testCertificate({ fresh: true });
    const logger = new MemoryLogger();
    const identity = await alone('identity', { logger, certificate: first });
    const urls = [identity.url, identity.mtlsUrl as string];
    for (const url of urls) expect(await servedFingerprint(url)).toBe(fingerprintOf(first));

    const replaced = identity.reloadCertificate(second);
    expect(replaced.serialNumber).toBe(new X509Certificate(second.certPem).serialNumber);
    for (const url of urls) expect(await servedFingerprint(url)).toBe(fingerprintOf(second));
    // The new pair serves requests (trusted by its own certificate).
    const operator = new Agent({ connect: { ca: second.certPem, minVersion: 'TLSv1.3', servername: 'localhost' } });
    cleanups.push(() => operator.close());
    expect((await call(`${identity.url}/healthz`, { agent: operator })).status).toBe(200);

    expect(codeOf(() => identity.reloadCertificate({ certPem: first.certPem, keyPem: second.keyPem }))).toBe(
      'ERR_CONFIG_INVALID: --key: the private key does not belong to the first certificate of --cert',
    );
    expect(codeOf(() => identity.reloadCertificate({ certPem: 'not a certificate', keyPem: first.keyPem }))).toBe(
      'ERR_CONFIG_INVALID: --cert: not a PEM certificate',
    );
    expect(codeOf(() => identity.reloadCertificate({ certPem: first.certPem, keyPem: 'not a key' }))).toBe(
      'ERR_CONFIG_INVALID: --key: not a PEM private key',
    );
    for (const url of urls) expect(await servedFingerprint(url)).toBe(fingerprintOf(second));
    const swaps = logger.lines.filter((line) => line['event'] === 'listener_certificate_replaced');
    expect(swaps).toHaveLength(1);

    // A component whose certificates come from the platform CA has no pair to replace.
    const kms = await alone('kms');
    expect(codeOf(() => kms.reloadCertificate(second))).toMatch(/^ERR_CONFIG_INVALID: .*without --cert\/--key/);
  });

  it('follows a root key rotated through gatehouse up; with only the previous key it says so once and keeps trying', async () => {
    const rootFile = running.paths.rootKey;
    const previous = readFileSync(rootFile, 'utf8').trim();
    const manualLog = new MemoryLogger();
    const pinnedLog = new MemoryLogger();
    const hour = 3_600_000;
    const manual = await alone('kms', { logger: manualLog, rootKeyCheckEveryMs: hour }); // checks when asked
    const polling = await alone('kms', { rootKeyCheckEveryMs: 50 });
    const pinned = await alone('kms', { logger: pinnedLog, rootKey: { env: previous }, rootKeyCheckEveryMs: hour });
    const transit = (at: RunningComponent, path: string, json: unknown) =>
      call(`${at.url}/v1/transit/${path}`, { headers: { authorization: `Bearer ${adminToken}` }, json });
    const encrypt = (at: RunningComponent, key: string) =>
      transit(at, `encrypt/${key}`, { plaintext: Buffer.from('sealed').toString('base64') });

    await admin('/v1/kms/keys', { name: 'early' });
    const early = await encrypt(manual, 'early');
    expect(early.status, JSON.stringify(early.body)).toBe(200);
    const rotated = await admin('/v1/kms/root/rotate', {});
    const fingerprint = RootKey.parse(readFileSync(rootFile, 'utf8')).fingerprint();
    expect(JSON.stringify(rotated)).toContain(fingerprint);
    await admin('/v1/kms/keys', { name: 'late' }); // sealed under the new root key

    // Before it looks, what was sealed under the new key cannot be opened here, and the answer says why.
    const before = await encrypt(manual, 'late');
    expect(before.status).toBe(503);
    expect(before.body.code).toBe('ERR_ROOT_KEY_NOT_HELD');
    expect(await manual.refreshRootKey()).toBe('adopted');
    expect(await manual.refreshRootKey()).toBe('current');
    expect((await encrypt(manual, 'late')).status).toBe(200);
    const decrypted = await transit(manual, 'decrypt/early', { ciphertext: early.body.data.ciphertext });
    expect(Buffer.from(decrypted.body.data.plaintext, 'base64').toString()).toBe('sealed');
    expect(manualLog.lines.find((line) => line['event'] === 'root_key_adopted')).toMatchObject({ to: fingerprint });
    // On its schedule, without being asked.
    let late = await encrypt(polling, 'late');
    for (let i = 0; i < 200 && late.status !== 200; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      late = await encrypt(polling, 'late');
    }
    expect(late.status).toBe(200);
    // GATEHOUSE_ROOT_KEY cannot change under a running process: one error line, and the data stays out of reach.
    expect(await pinned.refreshRootKey()).toBe('unavailable');
    expect(await pinned.refreshRootKey()).toBe('unavailable');
    const stale = pinnedLog.lines.filter((line) => line['event'] === 'root_key_stale');
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatchObject({ stored: fingerprint, source: 'env' });
    expect(String(stale[0]?.['msg'])).toContain('restart this process with the new key');
    expect((await encrypt(pinned, 'late')).body.code).toBe('ERR_ROOT_KEY_NOT_HELD');
    expect(JSON.stringify([...manualLog.lines, ...pinnedLog.lines])).not.toContain(previous);

    // A component alone never repairs the key files of a rotation (up may be running one right now): it only uses a
    // committed .next, and leaves a stale one where it is.
    const current = readFileSync(rootFile, 'utf8');
    const next = `${rootFile}.next`;
    try {
      writeFileSync(rootFile, `${previous}\n`, { mode: 0o600 });
      writeFileSync(next, current, { mode: 0o600 });
      const committed = await alone('kms', { rootKeyCheckEveryMs: hour });
      expect((await encrypt(committed, 'late')).status).toBe(200);
      expect(readFileSync(rootFile, 'utf8').trim()).toBe(previous);
      expect(readFileSync(next, 'utf8')).toBe(current);
      writeFileSync(rootFile, current, { mode: 0o600 });
      writeFileSync(next, `${RootKey.generate().toText()}\n`, { mode: 0o600 });
      const beside = await alone('kms', { rootKeyCheckEveryMs: hour });
      expect((await encrypt(beside, 'late')).status).toBe(200);
      expect(existsSync(next)).toBe(true);
    } finally {
      writeFileSync(rootFile, current, { mode: 0o600 });
      rmSync(next, { force: true });
    }
  });

  it('identity and KMS alone follow a CA rotation made through gatehouse up (on their schedule, and when asked)', async () => {
    const followed = 'the stored CA changed (rotation elsewhere); following it';
    const logs = { identity: new MemoryLogger(), kms: new MemoryLogger() };
    const identity = await alone('identity', { logger: logs.identity, caRefreshEveryMs: 50 });
    const kms = await alone('kms', { logger: logs.kms, caRefreshEveryMs: 50 });
    const asked = await alone('kms', { caRefreshEveryMs: 3_600_000 }); // follows only when asked
    const before = running.core.authority.bundleSequence;
    await admin('/v1/ca/rotate', {}); // prepares and publishes the next intermediate: the bundle changes
    const sequence = running.core.authority.bundleSequence;
    expect(sequence).toBeGreaterThan(before);
    for (const logger of [logs.identity, logs.kms]) {
      for (let i = 0; i < 200 && !logger.lines.some((l) => l.msg === followed); i += 1) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(logger.lines.find((l) => l.msg === followed)).toMatchObject({ bundleSequence: sequence });
    }
    expect(await identity.refreshCa()).toEqual({ changed: false, bundleSequence: sequence });
    expect(await kms.refreshCa()).toEqual({ changed: false, bundleSequence: sequence });
    expect(await asked.refreshCa()).toEqual({ changed: true, bundleSequence: sequence });
  });
});
