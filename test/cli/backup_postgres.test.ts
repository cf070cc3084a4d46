import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { exitOf } from '../support/cli.js';
import { freshPostgresSchema, type FreshPostgresSchema } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';
import { gatehouse, kill9, up } from './object_support.js';

// A backup of an embedded (SQLite) gatehouse restored into PostgreSQL: the archive is storage-independent.
describe('gatehouse restore into PostgreSQL', { timeout: 120_000 }, () => {
  const tmp = tempDir('gh-backup-pg-');
  const children: ChildProcess[] = [];
  const schemas: FreshPostgresSchema[] = [];
  afterAll(async () => {
    for (const child of children) await kill9(child);
    for (const schema of schemas) await schema.drop();
    tmp.remove();
  });

  it('restores records into an empty schema, refuses a non-empty one, and serves every object', async () => {
    const source = join(tmp.dir, 'source');
    const archive = join(tmp.dir, 'backup.tar');
    const server = await up(source);
    children.push(server.child);
    const plain = join(tmp.dir, 'plain');
    writeFileSync(plain, 'object in postgres');
    expect((await gatehouse(['object', 'put', 'pg/a/b', '--data-dir', source], { stdinFile: plain })).code).toBe(0);
    expect((await gatehouse(['backup', '--out', archive, '--data-dir', source])).code).toBe(0);
    server.child.kill('SIGTERM');
    await exitOf(server.child);
    const rootKey = readFileSync(join(source, 'root.key'), 'utf8').trim();

    const pg = await freshPostgresSchema();
    schemas.push(pg);
    const env = {
      GATEHOUSE_STORAGE__KIND: 'postgres',
      GATEHOUSE_STORAGE__POSTGRES__URL: pg.url,
      GATEHOUSE_STORAGE__POSTGRES__SCHEMA: pg.schema,
    };
    const target = join(tmp.dir, 'target');
    const restored = await gatehouse(['restore', archive, '--data-dir', target, '--json'], {
      env: { ...env, GATEHOUSE_ROOT_KEY: rootKey },
    });
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout.toString())).toMatchObject({ objects: 1 });

    const again = await gatehouse(['restore', archive, '--data-dir', join(tmp.dir, 'other')], {
      env: { ...env, GATEHOUSE_ROOT_KEY: rootKey },
    });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('The record store is not empty');

    const restarted = await up(target, { ...env, GATEHOUSE_ROOT_KEY: rootKey });
    children.push(restarted.child);
    const got = await gatehouse(['object', 'get', 'pg/a/b', '--data-dir', target]);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout.toString()).toBe('object in postgres');
  });
});
