import { join } from 'node:path';
import { MemoryRecordStore, PostgresRecordStore, SqliteRecordStore } from '../../src/adapters/index.js';
import type { ManualClock, RecordStore } from '../../src/core/index.js';
import { freshPostgresSchema } from './postgres.js';
import { tempDir } from './tmp.js';

/** Opens a fresh, empty record store on the given clock. */
export type StoreFactory = (clock: ManualClock) => Promise<RecordStore>;

/**
 * One factory per record store backend (memory, SQLite in a temp dir, PostgreSQL in its own schema), for
 * `describe.each`. Each factory pushes the removal of what it made (temp dir, schema) onto `cleanups`; the test
 * closes the store itself.
 *
 * @example
 * describe.each(recordStoreFactories(cleanups, { tmpPrefix: 'gh-x-' }))('on %s', (_name, factory) => { ... });
 */
export function recordStoreFactories(
  cleanups: Array<() => Promise<void> | void>,
  options: { tmpPrefix: string; postgresPoolSize?: number },
): Array<[string, StoreFactory]> {
  return [
    ['memory', async (clock) => new MemoryRecordStore({ clock })],
    [
      'sqlite',
      async (clock) => {
        const tmp = tempDir(options.tmpPrefix);
        cleanups.push(tmp.remove);
        return SqliteRecordStore.open({ file: join(tmp.dir, 'db.sqlite'), clock, busyTimeoutMs: 5000 });
      },
    ],
    [
      'postgres',
      async (clock) => {
        const pg = await freshPostgresSchema();
        cleanups.push(() => pg.drop());
        return PostgresRecordStore.open({
          url: pg.url,
          schema: pg.schema,
          poolSize: options.postgresPoolSize ?? 2,
          ssl: false,
          clock,
        });
      },
    ],
  ];
}
