import type Database from 'better-sqlite3';
import { GatehouseError, type Clock, type Logger } from '../../core/index.js';

/** The SQLite schema, one entry per version. Never edit a released entry: append a new one. */
export const SQLITE_MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE records (
        collection TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        version INTEGER NOT NULL,
        expires_at INTEGER,
        PRIMARY KEY (collection, key)
      ) WITHOUT ROWID;
      CREATE INDEX records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE counters (
        collection TEXT NOT NULL,
        key TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (collection, key)
      ) WITHOUT ROWID;
    `,
  },
];

/**
 * Brings a database to the latest schema version inside one IMMEDIATE transaction, recording each version in
 * `schema_migrations`; returns the versions it applied (none when the database is current). A database newer than
 * this code, or a SQLite file that holds someone else's tables, throws ERR_STORE_CORRUPT naming `file`.
 *
 * @example
 * const applied = migrateSqlite(db, { file, clock, logger });
 */
export function migrateSqlite(
  db: Database.Database,
  options: { file: string; clock: Clock; logger: Logger; migrations?: ReadonlyArray<{ version: number; sql: string }> },
): number[] {
  const migrations = options.migrations ?? SQLITE_MIGRATIONS;
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  const run = db.transaction((): number[] => {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
    if (!tables.includes('schema_migrations')) {
      if (tables.length > 0) {
        throw new GatehouseError('ERR_STORE_CORRUPT', {
          message: `${options.file}: a SQLite database without gatehouse's schema_migrations table (not a gatehouse database)`,
        });
      }
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    }
    const current = (db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
    if (current > latest) {
      throw new GatehouseError('ERR_STORE_CORRUPT', {
        message: `${options.file}: schema version ${current} is newer than this gatehouse understands (${latest}); upgrade gatehouse`,
      });
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
    const applied: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, options.clock.now());
      applied.push(migration.version);
    }
    return applied;
  });
  const applied = run.immediate();
  if (applied.length > 0) options.logger.info({ file: options.file, applied }, 'sqlite schema migrated');
  return applied;
}
