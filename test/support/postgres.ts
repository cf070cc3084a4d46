import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A PostgreSQL schema of its own for one test. */
export interface FreshPostgresSchema {
  /** The server URL (process.env.DATABASE_URL). */
  url: string;
  /** A new, empty schema named `t_<random>`. */
  schema: string;
  /** Drops the schema and everything in it (CASCADE). */
  drop(): Promise<void>;
}

/**
 * Creates an empty schema with a random name on the server at DATABASE_URL, so that every test is isolated. Throws
 * when DATABASE_URL is unset: tests never skip silently (CI always sets it).
 *
 * @example
 * const pgSchema = await freshPostgresSchema();
 * const store = await PostgresRecordStore.open({ url: pgSchema.url, schema: pgSchema.schema, ... });
 * await pgSchema.drop();
 */
export async function freshPostgresSchema(): Promise<FreshPostgresSchema> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    throw new Error(
      'DATABASE_URL is not set: PostgreSQL tests need it, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test',
    );
  }
  const schema = `t_${randomBytes(8).toString('hex')}`;
  await withClient(url, (client) => client.query(`CREATE SCHEMA "${schema}"`));
  return {
    url,
    schema,
    drop: () => withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)),
  };
}

async function withClient(url: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
