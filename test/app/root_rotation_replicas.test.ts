import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../../src/app/index.js';
import { MemoryLogger, type Lease } from '../../src/core/index.js';
import { RootKey } from '../../src/kms/index.js';
import { callJson } from '../support/https.js';
import { trustingAgent } from '../support/https.js';
import { upReplicas } from '../support/replicas.js';

const HOUR = 3_600_000;
const LEASE = 'root-key-rotation';

/**
 * Several `gatehouse up` replicas (in process, each with its own data directory) on one PostgreSQL schema, sharing
 * one root key file (`--root-key-file` on a shared secret mount): a root rotation through one is followed by the
 * others, and no replica's start disturbs the `.next` file of a rotation running in another.
 */
describe('gatehouse up replicas on one PostgreSQL follow each other root rotations', { timeout: 120_000 }, () => {
  const replicas = upReplicas('gh-uprot-');
  const rootFile = replicas.rootFile;
  const nextFile = `${rootFile}.next`;
  let agent: Agent;
  let a: RunningGatehouse;
  let b: RunningGatehouse;

  const start = async (name: string, logger = new MemoryLogger()) => {
    if (a !== undefined) {
      // The admin token is shared by the replicas of one storage: a joining replica gets a copy (docs/operations.md).
      const dataDir = join(replicas.dir, name);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      copyFileSync(a.paths.adminToken, join(dataDir, 'admin.token'));
    }
    const { running, stop } = await replicas.start(name, {
      logger,
      rootKeyCheckEveryMs: HOUR, // checked when the test asks
    });
    return { running, logger, stop };
  };
  const tokenOf = (at: RunningGatehouse) => readFileSync(at.paths.adminToken, 'utf8').trim();
  const admin = (at: RunningGatehouse, path: string, json: unknown = {}) =>
    callJson(agent, `${at.endpoints.admin}${path}`, { headers: { authorization: `Bearer ${tokenOf(at)}` }, json });
  const transit = (at: RunningGatehouse, path: string, json: unknown) =>
    callJson(agent, `${at.endpoints.kms}/v1/transit/${path}`, {
      headers: { authorization: `Bearer ${tokenOf(at)}` },
      json,
    });
  const encrypt = (at: RunningGatehouse, key: string) =>
    transit(at, `encrypt/${key}`, { plaintext: Buffer.from('sealed').toString('base64') });
  const fileKey = () => RootKey.parse(readFileSync(rootFile, 'utf8')).fingerprint();
  const manifestKey = (at: RunningGatehouse) =>
    (JSON.parse(readFileSync(at.paths.manifest, 'utf8')) as { rootKeyFingerprint: string }).rootKeyFingerprint;

  beforeAll(async () => {
    await replicas.open();
    a = (await start('a')).running;
    b = (await start('b')).running;
    agent = trustingAgent(a.endpoints.trustBundle);
  });

  afterAll(async () => {
    await agent?.close();
    await replicas.close();
  });

  it('a replica adopts a root key rotated through another: 503 ERR_ROOT_KEY_NOT_HELD before, then it reads and writes again', async () => {
    expect((await admin(a, '/v1/kms/keys', { name: 'early' })).status).toBeLessThan(300);
    const early = await encrypt(b, 'early');
    expect(early.status, JSON.stringify(early.body)).toBe(200);

    const rotated = await admin(a, '/v1/kms/root/rotate');
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const fingerprint = fileKey();
    expect(rotated.body.fingerprint).toBe(fingerprint);
    expect(existsSync(nextFile)).toBe(false);
    expect(manifestKey(a)).toBe(fingerprint);
    expect((await admin(a, '/v1/kms/keys', { name: 'late' })).status).toBeLessThan(300); // sealed under the new root key

    // B has not looked yet: what was sealed under the new key is out of reach, and B writes nothing.
    const before = await encrypt(b, 'late');
    expect(before.status).toBe(503);
    expect(before.body.code).toBe('ERR_ROOT_KEY_NOT_HELD');
    expect((await admin(b, '/v1/kms/keys', { name: 'from-b' })).body.code).toBe('ERR_ROOT_KEY_WRONG');
    // Nor may it rotate on top of a rotation it has not adopted.
    const refused = await admin(b, '/v1/kms/root/rotate');
    expect(refused.body.code).toBe('ERR_ROOT_KEY_NOT_HELD');
    expect(fileKey()).toBe(fingerprint);
    expect(existsSync(nextFile)).toBe(false);

    expect(await b.refreshRootKey()).toBe('adopted');
    expect(await b.refreshRootKey()).toBe('current');
    expect(manifestKey(b)).toBe(fingerprint);
    expect((await encrypt(b, 'late')).status).toBe(200);
    const decrypted = await transit(b, 'decrypt/early', { ciphertext: early.body.data.ciphertext });
    expect(Buffer.from(decrypted.body.data.plaintext, 'base64').toString()).toBe('sealed');
    expect((await admin(b, '/v1/kms/keys', { name: 'from-b' })).status).toBeLessThan(300);

    // And the other way round.
    expect((await admin(b, '/v1/kms/root/rotate')).status).toBe(200);
    expect(await a.refreshRootKey()).toBe('adopted');
    expect((await encrypt(a, 'from-b')).status).toBe(200);
  });

  it('never removes or renames the .next of a rotation another replica is running; settles a stale or committed one once it is free', async () => {
    // Another replica is mid-rotation: it holds the rotation lease and has written its .next (not committed yet).
    let lease: Lease | undefined = await a.core.leases.tryAcquire(LEASE);
    expect(lease).toBeDefined();
    const current = fileKey();
    const pending = RootKey.generate();
    writeFileSync(nextFile, `${pending.toText()}\n`, { mode: 0o600 });
    try {
      expect((await admin(b, '/v1/kms/root/rotate')).body.code).toBe('ERR_LEASE_HELD');
      const cLog = new MemoryLogger();
      const c = await start('c', cLog); // first start of a third replica, while the rotation runs
      expect(readFileSync(nextFile, 'utf8').trim()).toBe(pending.toText());
      expect(fileKey()).toBe(current);
      expect(
        cLog.lines.some((l) => String(l['msg']).includes('a root key rotation is running in another process')),
      ).toBe(true);
      await c.stop();
    } finally {
      await lease?.release();
    }

    // Free again and the store still sealed under the file's key: the .next never committed; a start removes it.
    const stale = await start('c');
    expect(existsSync(nextFile)).toBe(false);
    expect(fileKey()).toBe(current);
    await stale.stop();

    // A rotation that committed and then died before its rename: the file holds the previous key, .next the new one.
    const committed = RootKey.generate();
    writeFileSync(nextFile, `${committed.toText()}\n`, { mode: 0o600 });
    await a.core.keyring.rotateRoot(committed);
    lease = await b.core.leases.tryAcquire(LEASE); // ... while yet another rotation holds the lease: left alone
    try {
      const using = await start('c');
      expect((await encrypt(using.running, 'late')).status).toBe(200); // opened with the committed .next
      expect(fileKey()).toBe(current);
      expect(existsSync(nextFile)).toBe(true);
      await using.stop();
    } finally {
      await lease?.release();
    }
    const settling = await start('c');
    expect(fileKey()).toBe(committed.fingerprint());
    expect(existsSync(nextFile)).toBe(false);
    expect(manifestKey(settling.running)).toBe(committed.fingerprint());
    expect((await encrypt(settling.running, 'late')).status).toBe(200);
    await settling.stop();
    // B follows from the key file.
    expect(await b.refreshRootKey()).toBe('adopted');
    expect((await encrypt(b, 'late')).status).toBe(200);
  });
});
