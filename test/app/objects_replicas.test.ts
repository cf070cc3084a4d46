import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { request, type Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../../src/app/index.js';
import { OBJECT_COLLECTIONS, objectRecordKey, type ObjectRecord } from '../../src/kms/index.js';
import { callJson, trustingAgent } from '../support/https.js';
import { upReplicas } from '../support/replicas.js';

/**
 * Two `gatehouse up` replicas on one PostgreSQL schema, each with its own data directory: an object's metadata is
 * shared but its file is on the disk of the replica that wrote it. Reading it through the other replica used to
 * answer 404 "The object file is missing" (and a rewrap there a 500); now 503 ERR_OBJECT_ON_OTHER_NODE names the
 * node that wrote it (`<hostname>:<dataDir>`, recorded in the object's metadata) and what to do.
 */
describe('objects on gatehouse up replicas with separate data directories', { timeout: 120_000 }, () => {
  const replicas = upReplicas('gh-objrep-');
  let agent: Agent;
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  let token: string;
  const nodeOf = (up: RunningGatehouse) => `${hostname()}:${up.paths.dir}`;

  const put = async (at: RunningGatehouse, path: string, bytes: string) => {
    const res = await request(`${at.endpoints.admin}/v1/objects/${path}`, {
      method: 'PUT',
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    await res.body.dump();
    return res.statusCode;
  };
  const call = (at: RunningGatehouse, path: string, method = 'GET') =>
    callJson(agent, `${at.endpoints.admin}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      ...(method === 'POST' ? { json: {} } : {}),
    });
  const record = async (at: RunningGatehouse, bucket: string, key: string) =>
    (await at.core.records.get<ObjectRecord>(OBJECT_COLLECTIONS.objects, objectRecordKey(bucket, key)))?.value;

  beforeAll(async () => {
    await replicas.open();
    a = (await replicas.start('a')).running;
    b = (await replicas.start('b')).running;
    token = readFileSync(a.paths.adminToken, 'utf8').trim();
    agent = trustingAgent(a.endpoints.trustBundle);
  });

  afterAll(async () => {
    await agent?.close();
    await replicas.close();
  });

  it('a read through the replica without the file names the node that wrote it; that node serves it', async () => {
    expect(nodeOf(a)).not.toBe(nodeOf(b));
    expect(await put(a, 'shared/report.txt', 'written on a')).toBe(201);
    expect((await record(b, 'shared', 'report.txt'))?.node).toBe(nodeOf(a));

    const direct = await call(a, '/v1/objects/shared/report.txt');
    expect([direct.status, direct.body]).toEqual([200, 'written on a']);

    for (const query of ['', '?verify=first', '?verify=only']) {
      const elsewhere = await call(b, `/v1/objects/shared/report.txt${query}`);
      expect(elsewhere.status, query).toBe(503);
      expect(elsewhere.body.code).toBe('ERR_OBJECT_ON_OTHER_NODE');
      expect(elsewhere.body.title).toContain(`Object shared/report.txt was written on node ${nodeOf(a)}`);
      expect(elsewhere.body.title).toContain(`its file is not on this node (${nodeOf(b)})`);
      expect(elsewhere.body.title).toContain('docs/operations.md, "Objects on replicas"');
    }
    // The metadata is shared: listing through b still shows the object.
    const listed = await call(b, '/v1/objects/shared');
    expect(listed.body.objects.map((o: { key: string }) => o.key)).toEqual(['report.txt']);
    expect(listed.body.objects[0]).not.toHaveProperty('node');
  });

  it('a backup and a rewrap through that replica say the same, not a 500 or "remove the object"', async () => {
    const backup = await call(b, '/v1/backup', 'POST');
    expect(backup.status).toBe(503);
    expect(backup.body.code).toBe('ERR_OBJECT_ON_OTHER_NODE');
    expect(backup.body.title).toContain(`written on node ${nodeOf(a)}`);

    expect((await call(a, '/v1/kms/keys/bucket-shared/rotate', 'POST')).status).toBe(200);
    const rewrap = await call(b, '/v1/objects/shared/rewrap', 'POST');
    expect(rewrap.status).toBe(200);
    const last = String(rewrap.body).trim().split('\n').pop() as string;
    expect(JSON.parse(last)).toMatchObject({ type: 'error', code: 'ERR_OBJECT_ON_OTHER_NODE' });
  });

  it('a put through the other replica moves the object there: the first replica then names it', async () => {
    expect(await put(b, 'shared/report.txt', 'written on b')).toBe(201);
    expect((await record(a, 'shared', 'report.txt'))?.node).toBe(nodeOf(b));
    const direct = await call(b, '/v1/objects/shared/report.txt');
    expect([direct.status, direct.body]).toEqual([200, 'written on b']);
    const elsewhere = await call(a, '/v1/objects/shared/report.txt');
    expect(elsewhere.status).toBe(503);
    expect(elsewhere.body.title).toContain(`written on node ${nodeOf(b)}`);
  });
});
