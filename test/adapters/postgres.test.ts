import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresLeases, PostgresRecordStore, advisoryKey, openStorage } from '../../src/adapters/index.js';
import { loadConfig } from '../../src/config/index.js';
import { ManualClock, MemoryLogger, isGatehouseError } from '../../src/core/index.js';
import { freshPostgresSchema, type FreshPostgresSchema } from '../support/postgres.js';
import { recordStoreContract } from './record_store.contract.js';

recordStoreContract('postgres', async () => {
  const pgSchema = await freshPostgresSchema();
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const store = await PostgresRecordStore.open({ ...pgSchema, poolSize: 10, ssl: false, clock });
  return {
    store,
    clock,
    cleanup: async () => {
      await store.close();
      await pgSchema.drop();
    },
  };
});

const schemas: FreshPostgresSchema[] = [];
async function fresh(): Promise<FreshPostgresSchema> {
  const s = await freshPostgresSchema();
  schemas.push(s);
  return s;
}
afterEach(async () => {
  for (const s of schemas.splice(0)) await s.drop();
});

async function sql<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgresRecordStore', () => {
  it('creates a missing schema, migrates once, and does not re-run migrations on reopen', async () => {
    const base = await fresh();
    const schema = `${base.schema}_new`;
    schemas.push({
      ...base,
      schema,
      drop: () => sql(base.url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`).then(() => {}),
    });
    const logger = new MemoryLogger();
    const options = { url: base.url, schema, poolSize: 2, ssl: false as const, clock: new ManualClock(7), logger };
    const [a, b] = await Promise.all([PostgresRecordStore.open(options), PostgresRecordStore.open(options)]);
    await a.write([{ op: 'insert', collection: 'c', key: 'k', value: 1 }]);
    expect((await b.get('c', 'k'))?.value).toBe(1);
    await Promise.all([a.close(), b.close()]);
    const again = await PostgresRecordStore.open(options);
    await again.close();
    expect(logger.lines.filter((l) => l.msg === 'postgres schema migrated')).toHaveLength(1);
    expect(await sql(base.url, `SELECT version, applied_at FROM "${schema}".schema_migrations`)).toEqual([
      { version: 1, applied_at: '7' },
    ]);
  });

  it('refuses a schema whose version is newer than the code', async () => {
    const { url, schema } = await fresh();
    const options = { url, schema, poolSize: 1, ssl: false as const, clock: new ManualClock(0) };
    await (await PostgresRecordStore.open(options)).close();
    await sql(url, `INSERT INTO "${schema}".schema_migrations VALUES (42, 0)`);
    const err = await PostgresRecordStore.open(options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isGatehouseError(err, 'ERR_STORE_CORRUPT')).toBe(true);
    expect((err as Error).message).toContain('schema version 42 is newer');
  });

  it('maps an unreachable server to ERR_STORE_UNAVAILABLE', async () => {
    const err = await PostgresRecordStore.open({
      url: 'postgres://postgres@127.0.0.1:1/none',
      schema: 'gatehouse',
      poolSize: 1,
      ssl: false,
      clock: new ManualClock(0),
      connectTimeoutMs: 2000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')).toBe(true);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(
      PostgresRecordStore.open({
        url: 'postgres://x@127.0.0.1/y',
        schema: 'a"; DROP TABLE x; --',
        poolSize: 1,
        ssl: false,
        clock: new ManualClock(0),
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });
});

describe('PostgresLeases (one process, separate sessions)', () => {
  it('holds a name once across sessions until released, namespaced by schema', async () => {
    const { url, schema } = await fresh();
    const one = new PostgresLeases({ url, ssl: false, schema });
    const two = new PostgresLeases({ url, ssl: false, schema });
    const elsewhere = new PostgresLeases({ url, ssl: false, schema: `${schema}_b` });
    const a = await one.tryAcquire('rotation');
    expect(a?.name).toBe('rotation');
    expect(await two.tryAcquire('rotation')).toBeUndefined();
    expect(await one.tryAcquire('rotation')).toBeUndefined();
    const other = await elsewhere.tryAcquire('rotation');
    expect(other).toBeDefined();
    await a?.release();
    const b = await two.tryAcquire('rotation');
    expect(b).toBeDefined();
    await Promise.all([one.close(), two.close(), elsewhere.close()]);
    expect(await one.tryAcquire('rotation')).toBeDefined();
    await one.close();
  });

  it('works on connections borrowed from a pool and destroys them on release', async () => {
    const { url, schema } = await fresh();
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const leases = new PostgresLeases({ pool, schema });
    const a = await leases.tryAcquire('job');
    expect(await leases.tryAcquire('job')).toBeUndefined();
    await a?.release();
    expect(pool.totalCount).toBe(0);
    const b = await leases.tryAcquire('job');
    expect(b).toBeDefined();
    await leases.close();
    await pool.end();
  });

  it('derives stable advisory keys', () => {
    expect(advisoryKey('gatehouse', 'lease:x')).toBe(advisoryKey('gatehouse', 'lease:x'));
    expect(advisoryKey('gatehouse', 'lease:x')).not.toBe(advisoryKey('other', 'lease:x'));
    expect(BigInt(advisoryKey('s', 'n'))).toBeLessThan(2n ** 63n);
  });
});

describe('openStorage (postgres)', () => {
  it('opens records and leases from config, warning when TLS is off towards a remote host', async () => {
    const { url, schema } = await fresh();
    const logger = new MemoryLogger();
    const config = loadConfig({ overrides: { storage: { kind: 'postgres', postgres: { url, schema } } } });
    const storage = await openStorage(config, { clock: new ManualClock(0), logger });
    await storage.records.write([{ op: 'insert', collection: 'c', key: 'k', value: 1 }]);
    expect(await storage.leases.tryAcquire('x')).toBeDefined();
    await storage.close();
    expect(logger.lines.some((l) => l.level === 'warn')).toBe(false);

    const remote = loadConfig({
      overrides: { storage: { kind: 'postgres', postgres: { url: 'postgres://u@0.0.0.0:1/db', tls: 'disable' } } },
    });
    const pending = openStorage(remote, { clock: new ManualClock(0), logger });
    await expect(pending).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(logger.lines.some((l) => l.level === 'warn' && /TLS to PostgreSQL is disabled/.test(l.msg ?? ''))).toBe(
      true,
    );
  });
});
