import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { FsObjectFiles, MemoryRecordStore } from '../../src/adapters/index.js';
import type { PlatformCore } from '../../src/app/compose.js';
import { objectOperations } from '../../src/app/object_operations.js';
import { permits } from '../../src/app/platform_authorizer.js';
import { loadConfig } from '../../src/config/index.js';
import { GatehouseError, ManualClock, MemoryLogger } from '../../src/core/index.js';
import { adminTokenOnly, createHttpsServer, registerObjectRoutes, type HttpsServer } from '../../src/http/index.js';
import {
  EnvelopeObjectCipher,
  Envelopes,
  Keyring,
  ObjectStore,
  RootKey,
  type ObjectRewrap,
} from '../../src/kms/index.js';
import { selfSigned } from './fake_kms.js';
import { tempDir } from '../support/tmp.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/**
 * The object routes over a real object store and keyring, authorized like app/platform_authorizer.ts: the bearer
 * token is the caller's space-separated scopes (`permits` decides), `none` has no credentials.
 */
async function setup() {
  const tmp = tempDir('gh-object-routes-');
  cleanups.push(() => tmp.remove());
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const logger = new MemoryLogger();
  const records = new MemoryRecordStore({ clock });
  const keyring = await Keyring.open({ store: records, root: RootKey.generate(), clock });
  await keyring.createKey('orders');
  const cipher = new EnvelopeObjectCipher(new Envelopes({ keys: keyring, clock }), keyring);
  const files = new FsObjectFiles(join(tmp.dir, 'objects'));
  const store = new ObjectStore({ records, files, cipher, clock, logger });
  const core = { logger, keyring } as unknown as PlatformCore;
  const config = loadConfig({});
  const server: HttpsServer = createHttpsServer({ name: 'admin', http: config.http, ...selfSigned(), logger });
  cleanups.push(() => server.close());
  const permissions: string[] = [];
  registerObjectRoutes(server.app, {
    ops: objectOperations({ store, rewrap: {} as ObjectRewrap }, core),
    checkToken: () => false,
    authorize: async (headers, permission) => {
      permissions.push(permission);
      const scopes = /^Bearer (.+)$/.exec(String(headers.authorization ?? ''))?.[1];
      if (scopes === undefined) throw new GatehouseError('ERR_ADMIN_UNAUTHORIZED');
      const caller = { principal: 'api_key:test', kind: 'api_key' as const, scopes: new Set(scopes.split(' ')) };
      if (!permits(caller, permission)) throw new GatehouseError('ERR_ADMIN_FORBIDDEN');
      return caller.principal;
    },
  });
  const put = async (path: string, scopes: string) => {
    const response = await server.app.inject({
      method: 'PUT',
      url: `/v1/objects/${path}`,
      headers: { authorization: `Bearer ${scopes}`, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('object body'),
    });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  };
  const keyNames = async () => (await keyring.listKeys()).map((k) => k.name);
  const ops = objectOperations({ store, rewrap: {} as ObjectRewrap }, core);
  return { put, keyNames, permissions, store, ops, logger, objectsDir: join(tmp.dir, 'objects') };
}

describe('object PUT ?key_name=', () => {
  it('object:write:<bucket> alone cannot bind a bucket to an existing key: 403 ERR_OBJECT_KEY_FORBIDDEN', async () => {
    const { put, store, permissions } = await setup();
    const refused = await put('invoices/a.txt?key_name=orders', 'object:write:invoices');
    expect(refused.status).toBe(403);
    expect(refused.body['code']).toBe('ERR_OBJECT_KEY_FORBIDDEN');
    expect(await store.listBuckets()).toEqual([]);
    expect(permissions).toEqual(['object:write:invoices', 'kms:encrypt:orders']);
    // with kms:encrypt:orders as well it may
    const allowed = await put('invoices/a.txt?key_name=orders', 'object:write:invoices kms:encrypt:orders');
    expect(allowed.status).toBe(201);
    expect(allowed.body['key_name']).toBe('orders');
    expect((await store.listBuckets()).map((b) => [b.name, b.keyName])).toEqual([['invoices', 'orders']]);
  });

  it('object:write:<bucket> cannot create a KMS key; kms:encrypt:<key> cannot either; admin can', async () => {
    const { put, keyNames } = await setup();
    for (const scopes of ['object:write:invoices', 'object:write:invoices kms:encrypt:payments']) {
      const refused = await put('invoices/a.txt?key_name=payments', scopes);
      expect(refused.status).toBe(403);
      expect(refused.body['code']).toBe('ERR_OBJECT_KEY_FORBIDDEN');
    }
    expect(await keyNames()).toEqual(['orders']);
    const created = await put('invoices/a.txt?key_name=payments', 'admin');
    expect(created.status).toBe(201);
    expect(await keyNames()).toEqual(['orders', 'payments']);
  });

  it("the bucket's default key needs only object:write:<bucket>, named or not, and is created on first use", async () => {
    const { put, keyNames, permissions } = await setup();
    expect((await put('invoices/a.txt', 'object:write:invoices')).status).toBe(201);
    expect((await put('invoices/b.txt?key_name=bucket-invoices', 'object:write:invoices')).status).toBe(201);
    expect((await put('photos/a.jpg?key_name=bucket-photos', 'object:write:photos')).status).toBe(201);
    expect(await keyNames()).toEqual(['bucket-invoices', 'bucket-photos', 'orders']);
    expect(permissions.every((p) => p.startsWith('object:write:'))).toBe(true);
    // another bucket's default key is not this bucket's
    const other = await put('photos/b.jpg?key_name=bucket-invoices', 'object:write:photos');
    expect(other.body['code']).toBe('ERR_OBJECT_KEY_FORBIDDEN');
  });

  it('checks the key choice only after object:write:<bucket>: 401 without credentials, 403 without the scope', async () => {
    const { put, permissions } = await setup();
    const anonymous = await put('invoices/a.txt?key_name=orders', '');
    expect(anonymous.status).toBe(401);
    const wrongBucket = await put('invoices/a.txt?key_name=orders', 'object:write:photos kms:encrypt:orders');
    expect(wrongBucket.status).toBe(403);
    expect(wrongBucket.body['code']).toBe('ERR_ADMIN_FORBIDDEN');
    expect(permissions).toEqual(['object:write:invoices', 'object:write:invoices']);
  });
});

// A streamed GET (no ?verify=first) was audited `result: ok` as soon as the stream was handed out, also when a
// tampered segment later aborted the download.
describe('object get audit line', () => {
  const auditLines = (logger: MemoryLogger) =>
    logger.lines.filter((l) => l['operation'] === 'object.get').map((l) => l['result']);
  const drain = async (stream: Readable) => {
    for await (const chunk of stream) void chunk;
  };

  it('records the outcome of the stream: ok at its end, the error code when a segment fails', async () => {
    const { ops, logger, objectsDir } = await setup();
    const data = Buffer.alloc(300 * 1024, 7);
    await ops.put('audit', 'a.bin', Readable.from([data]), { actor: 'admin-token' });
    const whole = await ops.read('audit', 'a.bin', { verifyFirst: false, actor: 'admin-token' });
    expect(auditLines(logger)).toEqual([]);
    await drain(whole.plaintext);
    expect(auditLines(logger)).toEqual(['ok']);

    const [file] = readdirSync(join(objectsDir, 'audit'));
    const path = join(objectsDir, 'audit', file!);
    const bytes = readFileSync(path);
    const at = bytes.length - 1000;
    bytes[at] = (bytes[at] ?? 0) ^ 1;
    writeFileSync(path, bytes);
    const tampered = await ops.read('audit', 'a.bin', { verifyFirst: false, actor: 'admin-token' });
    await expect(drain(tampered.plaintext)).rejects.toMatchObject({ code: 'ERR_KMS_DECRYPT_FAILED' });
    expect(auditLines(logger)).toEqual(['ok', 'ERR_KMS_DECRYPT_FAILED']);
    await expect(ops.read('audit', 'a.bin', { verifyFirst: true, actor: 'admin-token' })).rejects.toMatchObject({
      code: 'ERR_KMS_DECRYPT_FAILED',
    });
    expect(auditLines(logger)).toEqual(['ok', 'ERR_KMS_DECRYPT_FAILED', 'ERR_KMS_DECRYPT_FAILED']);
  });

  it('records `aborted` when the reader goes away before the end', async () => {
    const { ops, logger } = await setup();
    await ops.put('audit', 'b.bin', Readable.from([Buffer.alloc(300 * 1024, 1)]), { actor: 'admin-token' });
    const { plaintext } = await ops.read('audit', 'b.bin', { verifyFirst: false, actor: 'admin-token' });
    for await (const chunk of plaintext) {
      void chunk;
      break;
    }
    // 'close' is emitted on the next tick after the destroy that ending the loop early caused.
    await new Promise((resolve) => setImmediate(resolve));
    expect(auditLines(logger)).toEqual(['aborted']);
  });
});

// Every object audit line said `actor: "admin-token"`, also for an API key or access token admitted by its scopes.
describe('object audit actor', () => {
  it('names the principal the authorizer admitted', async () => {
    const { put, logger } = await setup();
    expect((await put('invoices/a.txt', 'object:write:invoices')).status).toBe(201);
    const lines = logger.lines.filter((l) => l['operation'] === 'object.put');
    expect(lines.map((l) => [l['actor'], l['result']])).toEqual([['api_key:test', 'ok']]);
  });

  it('is admin-token when the admin token is the only credential (no authorizer)', async () => {
    const { logger, store } = await setup();
    const server: HttpsServer = createHttpsServer({
      name: 'admin',
      http: loadConfig({}).http,
      ...selfSigned(),
      logger,
    });
    cleanups.push(() => server.close());
    registerObjectRoutes(server.app, {
      ops: objectOperations({ store, rewrap: {} as ObjectRewrap }, { logger } as unknown as PlatformCore),
      checkToken: adminTokenOnly((token) => token === 'the-admin-token'),
    });
    const put = (token: string) =>
      server.app.inject({
        method: 'PUT',
        url: '/v1/objects/audit/c.bin',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        payload: Buffer.from('c'),
      });
    expect((await put('not-the-admin-token')).statusCode).toBe(401);
    expect((await put('the-admin-token')).statusCode).toBe(201);
    const lines = logger.lines.filter((l) => l['operation'] === 'object.put');
    expect(lines.map((l) => [l['actor'], l['result']])).toEqual([['admin-token', 'ok']]);
  });
});
