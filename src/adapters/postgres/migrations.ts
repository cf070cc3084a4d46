import type pg from 'pg';
import { GatehouseError, type Clock, type Logger } from '../../core/index.js';
import { advisoryKey, quoteSchema } from './advisory_key.js';

/** The PostgreSQL schema, one entry per version; `$schema` stands for the quoted schema. Append, never edit. */
export const POSTGRES_MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE $schema.records (
        collection text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        value text NOT NULL,
        version bigint NOT NULL,
        expires_at bigint,
        PRIMARY KEY (collection, key)
      );
      CREATE INDEX records_expiry ON $schema.records (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE $schema.counters (
        collection text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        value bigint NOT NULL,
        PRIMARY KEY (collection, key)
      );
    `,
  },
];

/**
 * Creates `schema` if missing and brings it to the latest version in one transaction, under a transaction-level
 * advisory lock so that replicas starting together apply each migration once. Returns the versions applied. A
 * schema newer than this code throws ERR_STORE_CORRUPT.
 *
 * @example
 * await migratePostgres(pool, { schema: 'gatehouse', clock, logger });
 */
export async function migratePostgres(
  pool: pg.Pool,
  options: {
    schema: string;
    clock: Clock;
    logger: Logger;
    migrations?: ReadonlyArray<{ version: number; sql: string }>;
  },
): Promise<number[]> {
  const migrations = [...(options.migrations ?? POSTGRES_MIGRATIONS)].sort((a, b) => a.version - b.version);
  const latest = migrations.at(-1)?.version ?? 0;
  const s = quoteSchema(options.schema);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryKey(options.schema, 'migrations')]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`,
    );
    const found = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s}.schema_migrations`);
    const current = found.rows[0]?.v ?? 0;
    if (current > latest) {
      throw new GatehouseError('ERR_STORE_CORRUPT', {
        message: `postgres schema ${options.schema}: schema version ${current} is newer than this gatehouse understands (${latest}); upgrade gatehouse`,
      });
    }
    const applied: number[] = [];
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await client.query(migration.sql.replaceAll('$schema', s));
      await client.query(`INSERT INTO ${s}.schema_migrations (version, applied_at) VALUES ($1, $2)`, [
        migration.version,
        options.clock.now(),
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    if (applied.length > 0) options.logger.info({ schema: options.schema, applied }, 'postgres schema migrated');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
