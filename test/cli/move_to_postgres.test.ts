import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitOf, FREE_PORTS, runCli, startUp } from '../support/cli.js';
import { processScratch } from '../support/scratch.js';

/**
 * Moving a single-machine install to PostgreSQL, as docs/operations.md says: backup, restore with the PostgreSQL
 * configuration, start with it. The restore's closing hint left out `--config`, and a directory restored into
 * PostgreSQL started without it opened an empty SQLite database beside its manifest and stopped on "the admin token
 * digest is missing from storage", leaving that database behind. Now the hint names the configuration and such a
 * start is refused naming storage.kind, creating nothing.
 */
describe('moving a single-machine install to PostgreSQL', { timeout: 120_000 }, () => {
  const tmp = processScratch('gh-move-pg-');
  afterAll(() => tmp.close());

  it('backup, restore with --config, and a start without that config is refused', async () => {
    const single = join(tmp.dir, 'single');
    const archive = join(tmp.dir, 'single.tar');
    const first = await startUp(single);
    tmp.track(first.child);
    expect((await runCli(['kms', 'key', 'create', 'orders', '--data-dir', single])).code).toBe(0);
    const backup = await runCli(['backup', '--out', archive, '--data-dir', single]);
    expect(backup.code, backup.stderr).toBe(0);
    first.child.kill('SIGTERM');
    expect(await exitOf(first.child)).toBe(0);

    const pg = await tmp.postgres();
    const config = join(tmp.dir, 'postgres.yaml');
    writeFileSync(config, `storage: { kind: postgres, postgres: { url: "${pg.url}", schema: ${pg.schema} } }\n`);
    const rootKey = join(single, 'root.key');
    const replica = join(tmp.dir, 'replica');
    const restored = await runCli([
      'restore',
      archive,
      '--data-dir',
      replica,
      '--config',
      config,
      '--root-key-file',
      rootKey,
    ]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain(`gatehouse up --data-dir ${replica} --config ${config} --root-key-file FILE`);

    const withoutConfig = await runCli(['up', '--data-dir', replica, '--root-key-file', rootKey], FREE_PORTS);
    expect(withoutConfig.code).toBe(1);
    expect(withoutConfig.stderr).toContain(
      `gatehouse: config: storage.kind: ${replica} was initialized on postgres (${join(replica, 'gatehouse.json')}), got "sqlite"`,
    );
    expect(existsSync(join(replica, 'gatehouse.db'))).toBe(false);

    const moved = await startUp(replica, {}, ['--config', config, '--root-key-file', rootKey]);
    tmp.track(moved.child);
    const keys = await runCli(['kms', 'key', 'list', '--data-dir', replica, '--json']);
    expect(keys.code, keys.stderr).toBe(0);
    expect(keys.stdout).toContain('"orders"');
  });
});
