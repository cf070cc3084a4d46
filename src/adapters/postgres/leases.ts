import pg from 'pg';
import { silentLogger, type Lease, type Leases, type Logger } from '../../core/index.js';
import { postgresError } from './errors.js';
import { advisoryKey } from './advisory_key.js';
import { postgresClientConfig, type PostgresSsl } from './pool.js';

/** Options of {@link PostgresLeases}: a pool to borrow connections from, or a URL to open dedicated ones. */
export type PostgresLeasesOptions = {
  /** Lock keys are namespaced by schema so that two deployments sharing a database do not collide. */
  schema: string;
  logger?: Logger;
} & ({ pool: pg.Pool } | { url: string; ssl: PostgresSsl; connectTimeoutMs?: number });

interface Session {
  query: pg.ClientBase['query'];
  /** Ends the session; with `destroy` the connection is closed rather than reused. */
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * Leases across replicas: a session-level `pg_try_advisory_lock` held on a dedicated connection per lease, so the
 * lease is freed on release() or when the process or its connection dies. The key is a stable 64-bit hash of the
 * schema and the lease name.
 *
 * @example
 * const leases = new PostgresLeases({ url, ssl: false, schema: 'gatehouse' });
 * await runUnderLease(leases, 'signing-key-rotation', rotateIfDue);
 */
export class PostgresLeases implements Leases {
  private readonly logger: Logger;
  private readonly held = new Set<Lease>();

  constructor(private readonly options: PostgresLeasesOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  async tryAcquire(name: string): Promise<Lease | undefined> {
    const session = await this.connect();
    const key = advisoryKey(this.options.schema, `lease:${name}`);
    let ok: boolean;
    try {
      const { rows } = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
      ok = rows[0]?.ok === true;
    } catch (err) {
      await session.end().catch(() => undefined);
      throw postgresError(err);
    }
    if (!ok) {
      await session.end();
      return undefined;
    }
    session.on('error', (err) => this.logger.error({ lease: name, err: err.message }, 'lease connection lost'));
    let released = false;
    const lease: Lease = {
      name,
      release: async () => {
        if (released) return;
        released = true;
        this.held.delete(lease);
        await session.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
        await session.end().catch(() => undefined);
      },
    };
    this.held.add(lease);
    return lease;
  }

  async close(): Promise<void> {
    await Promise.all([...this.held].map((lease) => lease.release()));
  }

  private async connect(): Promise<Session> {
    try {
      if ('pool' in this.options) {
        const client = await this.options.pool.connect();
        // Destroy rather than return the connection: a pooled session must never keep a lock by accident.
        return { query: client.query.bind(client), end: async () => client.release(true), on: client.on.bind(client) };
      }
      const client = new pg.Client(
        postgresClientConfig(this.options.url, this.options.ssl, this.options.connectTimeoutMs),
      );
      client.on('error', () => undefined);
      await client.connect();
      return { query: client.query.bind(client), end: () => client.end(), on: client.on.bind(client) };
    } catch (err) {
      throw postgresError(err);
    }
  }
}
