import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RootKey } from '../../src/kms/index.js';
import { startUp } from '../support/cli.js';
import { processScratch } from '../support/scratch.js';

/**
 * The banner of a `gatehouse up` replica that joined initialized PostgreSQL said "token in DIR/admin.token", a file
 * that replica does not have (the token is shared and made by the first replica): it now says to copy it in.
 */
describe('the banner of a replica joining PostgreSQL', { timeout: 120_000 }, () => {
  const tmp = processScratch('gh-replica-banner-');
  afterAll(() => tmp.close());

  it('names the admin token file only where there is one', async () => {
    const pg = await tmp.postgres();
    const rootKey = join(tmp.dir, 'root.key');
    writeFileSync(rootKey, `${RootKey.generate().toText()}\n`, { mode: 0o600 });
    const env = {
      GATEHOUSE_STORAGE__KIND: 'postgres',
      GATEHOUSE_STORAGE__POSTGRES__URL: pg.url,
      GATEHOUSE_STORAGE__POSTGRES__SCHEMA: pg.schema,
      GATEHOUSE_MESH__DEMO__ENABLED: 'false',
    };
    const a = await startUp(join(tmp.dir, 'a'), env, ['--root-key-file', rootKey]);
    tmp.track(a.child);
    expect(a.output()).toContain(`(127.0.0.1 only; token in ${join(tmp.dir, 'a', 'admin.token')})`);
    const b = await startUp(join(tmp.dir, 'b'), env, ['--root-key-file', rootKey]);
    tmp.track(b.child);
    expect(b.output()).toContain(
      `(127.0.0.1 only; no admin token here: copy admin.token from a replica into ${join(tmp.dir, 'b')}, mode 600)`,
    );
    expect(b.output()).not.toContain('token in');
  });
});
