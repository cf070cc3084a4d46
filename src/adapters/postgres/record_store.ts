import type pg from 'pg';
import {
  GatehouseError,
  silentLogger,
  type Clock,
  type ListOptions,
  type Logger,
  type RecordStore,
  type SnapshotEntry,
  type StoredRecord,
  type WriteOp,
} from '../../core/index.js';
import { checkLimit, checkName, checkStep, checkWriteOps, decideWrite } from '../write_rules.js';
import { SNAPSHOT_PAGE, checkSnapshotEntry, restoreTargetInUse } from '../snapshot_rules.js';
import { quoteSchema } from './advisory_key.js';
import { postgresError } from './errors.js';
import { COLUMNS, statements, toMs, toRecord, type Row } from './record_statements.js';
import { migratePostgres } from './migrations.js';
import { createPostgresPool, type PostgresSsl } from './pool.js';

/** Options of {@link PostgresRecordStore.open}. */
export interface PostgresRecordStoreOptions {
  url: string;
  /** Schema holding the tables (created when missing). */
  schema: string;
  poolSize: number;
  ssl: PostgresSsl;
  clock: Clock;
  logger?: Logger;
  connectTimeoutMs?: number;
}

/**
 * The RecordStore shared by replicas: tables in one PostgreSQL schema, every statement schema-qualified, values as
 * JSON text. Each `write` is one transaction: update and delete lock their row (`FOR UPDATE`) before checking
 * versions, insert and upsert are single conditional `INSERT ... ON CONFLICT` statements, so preconditions hold
 * under concurrency.
 *
 * @example
 * const store = await PostgresRecordStore.open({ url, schema: 'gatehouse', poolSize: 10, ssl: false, clock: systemClock });
 */
export class PostgresRecordStore implements RecordStore {
  private readonly sql: ReturnType<typeof statements>;
  private readonly schema: string;

  private constructor(
    private readonly pool: pg.Pool,
    schema: string,
    private readonly clock: Clock,
  ) {
    this.sql = statements(schema);
    this.schema = quoteSchema(schema);
  }

  /** Connects, creates the schema when missing and migrates it under an advisory lock. */
  static async open(options: PostgresRecordStoreOptions): Promise<PostgresRecordStore> {
    const logger = options.logger ?? silentLogger;
    quoteSchema(options.schema);
    const pool = createPostgresPool({ ...options, logger });
    try {
      await migratePostgres(pool, { schema: options.schema, clock: options.clock, logger });
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw postgresError(err);
    }
    return new PostgresRecordStore(pool, options.schema, options.clock);
  }

  async get<T = unknown>(collection: string, key: string): Promise<StoredRecord<T> | undefined> {
    checkName(collection, key);
    const { rows } = await this.query<Row>(this.sql.get, [collection, key, this.clock.now()]);
    return rows[0] && toRecord<T>(collection, rows[0]);
  }

  async list<T = unknown>(collection: string, options: ListOptions = {}): Promise<Array<StoredRecord<T>>> {
    checkName(collection);
    checkLimit(options.limit);
    const params: unknown[] = [collection, this.clock.now()];
    let text = this.sql.list;
    if (options.prefix !== undefined) {
      params.push(options.prefix);
      text += ` AND key >= $${params.length} AND starts_with(key, $${params.length})`;
    }
    if (options.after !== undefined) {
      params.push(options.after);
      text += ` AND key > $${params.length}`;
    }
    text += ' ORDER BY key';
    if (options.limit !== undefined) {
      params.push(options.limit);
      text += ` LIMIT $${params.length}`;
    }
    const { rows } = await this.query<Row>({ text }, params);
    return rows.map((row) => toRecord<T>(collection, row));
  }

  async write(ops: readonly WriteOp[]): Promise<StoredRecord[]> {
    const texts = checkWriteOps(ops);
    if (ops.length === 0) return [];
    const now = this.clock.now();
    return this.transaction(async (client) => {
      const results: StoredRecord[] = [];
      for (const [i, op] of ops.entries()) {
        const stored = await this.apply(client, op, texts[i], now);
        if (stored) results.push(stored);
      }
      return results;
    });
  }

  async increment(collection: string, key: string, by: number): Promise<number> {
    checkName(collection, key);
    checkStep(by);
    const { rows } = await this.query<{ value: string }>(this.sql.increment, [collection, key, by]);
    return Number(rows[0]?.value);
  }

  async counter(collection: string, key: string): Promise<number> {
    checkName(collection, key);
    const { rows } = await this.query<{ value: string }>(this.sql.counter, [collection, key]);
    return rows[0] ? Number(rows[0].value) : 0;
  }

  async purgeExpired(): Promise<number> {
    const result = await this.query(this.sql.purge, [this.clock.now()]);
    return result.rowCount ?? 0;
  }

  /** One REPEATABLE READ, READ ONLY transaction: every page sees the same snapshot of both tables. */
  async *snapshot(): AsyncIterable<SnapshotEntry> {
    const s = this.schema;
    const now = this.clock.now();
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      let after: [string, string] = ['', ''];
      for (;;) {
        const { rows } = await client.query<Row & { collection: string }>(
          `SELECT collection, ${COLUMNS} FROM ${s}.records
           WHERE (collection, key) > ($1, $2) AND (expires_at IS NULL OR expires_at > $3)
           ORDER BY collection, key LIMIT ${SNAPSHOT_PAGE}`,
          [...after, now],
        );
        for (const row of rows) yield { kind: 'record', ...toRecord(row.collection, row) };
        const last = rows.at(-1);
        if (!last || rows.length < SNAPSHOT_PAGE) break;
        after = [last.collection, last.key];
      }
      after = ['', ''];
      for (;;) {
        const { rows } = await client.query<{ collection: string; key: string; value: string }>(
          `SELECT collection, key, value FROM ${s}.counters WHERE (collection, key) > ($1, $2)
           ORDER BY collection, key LIMIT ${SNAPSHOT_PAGE}`,
          after,
        );
        for (const row of rows)
          yield { kind: 'counter', collection: row.collection, key: row.key, value: Number(row.value) };
        const last = rows.at(-1);
        if (!last || rows.length < SNAPSHOT_PAGE) break;
        after = [last.collection, last.key];
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        broken = rollbackErr as Error;
      });
      throw postgresError(err);
    } finally {
      if (!broken) await client.query('ROLLBACK').catch(() => undefined); // no-op after COMMIT; ends an abandoned iteration
      client.release(broken);
    }
  }

  /** One transaction around the whole load, refused unless both tables are empty. */
  async restore(entries: AsyncIterable<SnapshotEntry>): Promise<{ records: number; counters: number }> {
    const s = this.schema;
    const counts = { records: 0, counters: 0 };
    return this.transaction(async (client) => {
      await client.query(`LOCK TABLE ${s}.records, ${s}.counters IN EXCLUSIVE MODE`);
      const used = await client.query(`SELECT 1 FROM ${s}.records UNION ALL SELECT 1 FROM ${s}.counters LIMIT 1`);
      if (used.rows.length > 0) throw restoreTargetInUse();
      for await (const entry of entries) {
        const text = checkSnapshotEntry(entry);
        if (entry.kind === 'counter') {
          await client.query(`INSERT INTO ${s}.counters (collection, key, value) VALUES ($1, $2, $3)`, [
            entry.collection,
            entry.key,
            entry.value,
          ]);
          counts.counters += 1;
        } else {
          await client.query(
            `INSERT INTO ${s}.records (collection, key, value, version, expires_at) VALUES ($1, $2, $3, $4, $5)`,
            [entry.collection, entry.key, text, entry.version, entry.expiresAt],
          );
          counts.records += 1;
        }
      }
      return counts;
    });
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  /** A pooled client; a failure to get one is mapped by postgresError (ERR_STORE_UNAVAILABLE). */
  private connect(): Promise<pg.PoolClient> {
    return this.pool.connect().catch((err: unknown) => {
      throw postgresError(err);
    });
  }

  /**
   * Runs `work` in one transaction: COMMIT after it, ROLLBACK on any error (rethrown through postgresError). A client
   * whose ROLLBACK failed is discarded from the pool instead of reused.
   */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        broken = rollbackErr as Error;
      });
      throw postgresError(err);
    } finally {
      client.release(broken);
    }
  }

  private async apply(
    client: pg.PoolClient,
    op: WriteOp,
    text: string | undefined,
    now: number,
  ): Promise<StoredRecord | undefined> {
    const { collection, key } = op;
    if (op.op === 'insert' || op.op === 'upsert') {
      const expiresAt = op.expiresAt === undefined ? null : op.expiresAt;
      const params =
        op.op === 'insert'
          ? [collection, key, text, expiresAt, now]
          : [collection, key, text, expiresAt, now, op.expiresAt !== undefined];
      const { rows } = await client.query<Row>(op.op === 'insert' ? this.sql.insert : this.sql.upsert, params);
      if (!rows[0]) throw new GatehouseError('ERR_STORE_CONFLICT', { detail: `insert over a live record` });
      return toRecord(collection, rows[0]);
    }
    const { rows } = await client.query<Row>(this.sql.lock, [collection, key]);
    const row = rows[0];
    const current = row && { version: Number(row.version), expiresAt: toMs(row.expires_at) };
    const outcome = decideWrite(op, current, now);
    if (outcome.action === 'delete') await client.query(this.sql.delete, [collection, key]);
    if (outcome.action !== 'put') return undefined;
    await client.query(this.sql.update, [collection, key, text, outcome.version, outcome.expiresAt]);
    const value: unknown = JSON.parse(text as string);
    return { collection, key, value, version: outcome.version, expiresAt: outcome.expiresAt };
  }

  private async query<R extends pg.QueryResultRow>(
    config: pg.QueryConfig,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>({ ...config, values });
    } catch (err) {
      throw postgresError(err);
    }
  }
}
