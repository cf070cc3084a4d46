import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isGatehouseError } from '../../src/core/index.js';
import { RootKey } from '../../src/kms/index.js';
import { freshPostgresSchema, type FreshPostgresSchema } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse, type TestGatehouse } from '../support/up.js';

/**
 * A replica given a wrong root key was told "The root key does not open this data directory" (a new directory): it
 * is now told which key it tried and that the PostgreSQL schema is sealed under another one.
 *
 * A `gatehouse up` replica started without a root key on PostgreSQL that another replica sealed used to make a root
 * key of its own in its data directory, then stop with "The root key does not open this data directory" (its data
 * directory was new; the schema was the problem) and leave that useless DIR/root.key for its next start to trip on.
 * It now stops before making one, saying the schema was initialized under another root key and how to supply it;
 * when both start at once on an empty schema, the one that loses removes the key it made.
 */
describe('a replica without the root key of initialized PostgreSQL', { timeout: 120_000 }, () => {
  const tmp = tempDir('gh-norootkey-');
  const started: TestGatehouse[] = [];
  let pg: FreshPostgresSchema | undefined;

  const start = async (name: string, rootKey: { file?: string } = {}) => {
    if (!pg) throw new Error('no schema');
    const up = await startTestGatehouse({
      dataDir: join(tmp.dir, name),
      overrides: { storage: { kind: 'postgres', postgres: { url: pg.url, schema: pg.schema } } },
      rootKey,
    });
    started.push(up);
    return up;
  };

  afterAll(async () => {
    for (const up of started) await up.stop();
    await pg?.drop();
    tmp.remove();
  });

  it('two first starts at once: one initializes, the other is refused and keeps no root key of its own', async () => {
    pg = await freshPostgresSchema();
    const names = ['a', 'b'];
    const results = await Promise.allSettled(names.map((name) => start(name)));
    const won = results.findIndex((r) => r.status === 'fulfilled');
    const lost = results.findIndex((r) => r.status === 'rejected');
    expect([won, lost].sort()).toEqual([0, 1]);
    const winner = names[won] as string;
    const loser = names[lost] as string;
    const err = (results[lost] as PromiseRejectedResult).reason as Error;
    expect(isGatehouseError(err, 'ERR_ROOT_KEY_MISSING'), String(err)).toBe(true);
    expect(err.message).toContain(`the PostgreSQL schema ${pg.schema} was initialized by another gatehouse up`);
    expect(err.message).toContain('--root-key-file FILE or GATEHOUSE_ROOT_KEY');
    expect(existsSync(join(tmp.dir, winner, 'root.key'))).toBe(true);
    expect(existsSync(join(tmp.dir, loser, 'root.key'))).toBe(false);

    // A later start without a key is refused the same way, before any key is made.
    await expect(start(loser)).rejects.toMatchObject({ code: 'ERR_ROOT_KEY_MISSING' });
    expect(existsSync(join(tmp.dir, loser, 'root.key'))).toBe(false);

    // With the winner's root key it joins and serves the same CA.
    const joined = await start(loser, { file: join(tmp.dir, winner, 'root.key') });
    const first = started.find((up) => up.running.paths.dir === join(tmp.dir, winner)) as TestGatehouse;
    expect(joined.bundlePem).toBe(first.bundlePem);
    expect(readFileSync(joined.running.endpoints.trustBundle, 'utf8')).toBe(first.bundlePem);
  });

  it('a replica given another root key is told the schema is sealed under a different one', async () => {
    const wrong = join(tmp.dir, 'wrong.key');
    const key = RootKey.generate();
    writeFileSync(wrong, `${key.toText()}\n`, { mode: 0o600 });
    const err = await start('c', { file: wrong }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(isGatehouseError(err, 'ERR_ROOT_KEY_WRONG'), String(err)).toBe(true);
    expect(err?.message).toBe(
      `the root key ${key.fingerprint()} (from ${wrong}) does not open the PostgreSQL schema ${pg?.schema}, which is sealed under another root key: give every replica the same root key`,
    );
  });
});
