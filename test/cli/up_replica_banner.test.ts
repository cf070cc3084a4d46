import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { RootKey } from '../../src/kms/index.js';
import { exitOf, startUp } from '../support/cli.js';
import { freshPostgresSchema, type FreshPostgresSchema } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';

/**
 * The banner of a `gatehouse up` replica that joined initialized PostgreSQL said "token in DIR/admin.token", a file
 * that replica does not have (the token is shared and made by the first replica): it now says to copy it in.
 */
describe('the banner of a replica joining PostgreSQL', { timeout: 120_000 }, () => {
  const tmp = tempDir('gh-replica-banner-');
  const children: ChildProcess[] = [];
  let pg: FreshPostgresSchema | undefined;

  afterAll(async () => {
    for (const child of children) {
      child.kill('SIGTERM');
      await exitOf(child);
    }
    await pg?.drop();
    tmp.remove();
  });

  it('names the admin token file only where there is one', async () => {
    pg = await freshPostgresSchema();
    const rootKey = join(tmp.dir, 'root.key');
    writeFileSync(rootKey, `${RootKey.generate().toText()}\n`, { mode: 0o600 });
    const env = {
      GATEHOUSE_STORAGE__KIND: 'postgres',
      GATEHOUSE_STORAGE__POSTGRES__URL: pg.url,
      GATEHOUSE_STORAGE__POSTGRES__SCHEMA: pg.schema,
      GATEHOUSE_MESH__DEMO__ENABLED: 'false',
    };
    const a = await startUp(join(tmp.dir, 'a'), env, ['--root-key-file', rootKey]);
    children.push(a.child);
    expect(a.output()).toContain(`(127.0.0.1 only; token in ${join(tmp.dir, 'a', 'admin.token')})`);
    const b = await startUp(join(tmp.dir, 'b'), env, ['--root-key-file', rootKey]);
    children.push(b.child);
    expect(b.output()).toContain(
      `(127.0.0.1 only; no admin token here: copy admin.token from a replica into ${join(tmp.dir, 'b')}, mode 600)`,
    );
    expect(b.output()).not.toContain('token in');
  });
});
