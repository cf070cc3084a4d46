import { describe, expect, it } from 'vitest';
import { openStorage } from '../../src/adapters/index.js';
import { loadConfig } from '../../src/config/index.js';
import { isGatehouseError, MemoryLogger, systemClock } from '../../src/core/index.js';

/**
 * A start that cannot use PostgreSQL used to end with `gatehouse: Storage is unavailable` (or `Storage refused the
 * operation`), naming neither the key nor the server nor the reason. It now names `storage.postgres.url`, the server
 * and database, the schema and the driver's reason, never the password.
 */
async function openFailure(url: string): Promise<Error> {
  const config = loadConfig({
    overrides: { storage: { kind: 'postgres', postgres: { url, schema: 'gh_never_made' } } },
  });
  try {
    const storage = await openStorage(config, { clock: systemClock, logger: new MemoryLogger() });
    await storage.close();
  } catch (err) {
    expect(isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')).toBe(true);
    return err as Error;
  }
  throw new Error(`${url} opened`);
}

describe('a PostgreSQL that cannot be used at start', { timeout: 30_000 }, () => {
  it('unreachable: names the key, the server and the reason, not the password', async () => {
    const err = await openFailure('postgres://gh:s3cret-pw@127.0.0.1:1/gatehouse');
    expect(err.message).toBe(
      'storage.postgres.url: cannot use PostgreSQL at 127.0.0.1:1/gatehouse (schema gh_never_made): connect ECONNREFUSED 127.0.0.1:1',
    );
    expect(err.message).not.toContain('s3cret-pw');
  });

  it('reachable but refusing (a database that does not exist): says what the server said', async () => {
    const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
    url.pathname = '/gh_no_such_database';
    const err = await openFailure(url.toString());
    expect(err.message).toContain(`storage.postgres.url: cannot use PostgreSQL at ${url.hostname}:`);
    expect(err.message).toContain('/gh_no_such_database (schema gh_never_made): database "gh_no_such_database"');
  });
});
