import type { ChildProcess } from 'node:child_process';
import { exitOf } from './cli.js';
import { freshPostgresSchema, type FreshPostgresSchema } from './postgres.js';
import { tempDir } from './tmp.js';

/** What one test file starts and makes, cleaned up at once by {@link Scratch.close}. */
export interface Scratch {
  /** A fresh temporary directory. */
  dir: string;
  /** Keeps `child` to be stopped by {@link close}; returns it. */
  track<T extends ChildProcess>(child: T): T;
  /** Makes a PostgreSQL schema of the file's own (dropped by {@link close}). */
  postgres(): Promise<FreshPostgresSchema>;
  /** SIGTERMs every tracked child and waits for it, drops the schemas and removes the directory. */
  close(): Promise<void>;
}

/**
 * A temporary directory, the `gatehouse` processes started on it and the PostgreSQL schemas made for it.
 *
 * @example
 * const scratch = processScratch('gh-move-pg-');
 * afterAll(() => scratch.close());
 * const up = await startUp(join(scratch.dir, 'a'), env);
 * scratch.track(up.child);
 */
export function processScratch(prefix: string): Scratch {
  const tmp = tempDir(prefix);
  const children: ChildProcess[] = [];
  const schemas: FreshPostgresSchema[] = [];
  return {
    dir: tmp.dir,
    track(child) {
      children.push(child);
      return child;
    },
    async postgres() {
      const schema = await freshPostgresSchema();
      schemas.push(schema);
      return schema;
    },
    async close() {
      for (const child of children) {
        child.kill('SIGTERM');
        await exitOf(child);
      }
      for (const schema of schemas) await schema.drop();
      tmp.remove();
    },
  };
}
