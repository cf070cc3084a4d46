import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Agent } from 'undici';
import { expect } from 'vitest';
import type { MemoryLogger } from '../../src/core/index.js';
import { RootKey } from '../../src/kms/index.js';
import { exitOf, runCli, startComponent, startUp, type CliResult, type ComponentProcess } from './cli.js';
import { trustingAgent } from './https.js';
import { freshPostgresSchema, type FreshPostgresSchema } from './postgres.js';
import { tempDir } from './tmp.js';
import { startTestGatehouse, type TestGatehouse } from './up.js';

/** In-process `gatehouse up` replicas made by {@link upReplicas}. */
export interface UpReplicas {
  /** The temporary directory holding the replicas' data directories and the root key file. */
  dir: string;
  /** The root key file every replica reads (`--root-key-file` on a shared secret mount). */
  rootFile: string;
  /** Makes the PostgreSQL schema and writes a new root key to {@link rootFile}; call once, before {@link start}. */
  open(): Promise<void>;
  /**
   * Starts a replica on the data directory `dir/name`; `overrides` are merged over the shared storage (top-level keys
   * replace). {@link close} stops it, if the test did not.
   */
  start(
    name: string,
    options?: { logger?: MemoryLogger; overrides?: Record<string, unknown>; rootKeyCheckEveryMs?: number },
  ): Promise<TestGatehouse>;
  /** Stops every replica started (the last first), drops the schema and removes the directory. */
  close(): Promise<void>;
}

/**
 * `gatehouse up` replicas in this process, each with its own data directory, on one PostgreSQL schema of their own and
 * one root key file.
 *
 * @example
 * const replicas = upReplicas('gh-upadm-');
 * beforeAll(async () => { await replicas.open(); a = (await replicas.start('a')).running; });
 * afterAll(() => replicas.close());
 */
export function upReplicas(tmpPrefix: string): UpReplicas {
  const tmp = tempDir(tmpPrefix);
  const rootFile = join(tmp.dir, 'root.key');
  const stops: Array<() => Promise<void>> = [];
  let pg: FreshPostgresSchema | undefined;
  return {
    dir: tmp.dir,
    rootFile,
    async open() {
      pg = await freshPostgresSchema();
      writeFileSync(rootFile, `${RootKey.generate().toText()}\n`, { mode: 0o600 });
    },
    async start(name, options = {}) {
      if (!pg) throw new Error('upReplicas: open() first');
      const up = await startTestGatehouse({
        dataDir: join(tmp.dir, name),
        overrides: {
          storage: { kind: 'postgres', postgres: { url: pg.url, schema: pg.schema } },
          ...options.overrides,
        },
        rootKey: { file: rootFile },
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.rootKeyCheckEveryMs === undefined ? {} : { rootKeyCheckEveryMs: options.rootKeyCheckEveryMs }),
      });
      stops.push(up.stop);
      return up;
    },
    async close() {
      while (stops.length) await stops.pop()?.();
      await pg?.drop();
      tmp.remove();
    },
  };
}

/** `gatehouse identity` replica processes made by {@link identityReplicas}. */
export interface IdentityReplicas {
  /** The Redis key prefix the replicas share (`t_<random>:`). */
  prefix: string;
  /**
   * Makes the PostgreSQL schema, writes the replicas' config file (`identity` its identity section) and starts
   * `gatehouse up` on it to initialize the storage; `cli` runs an admin command against that up (`--json`).
   */
  initialize(identity: Record<string, unknown>): Promise<{
    cli(args: string[], input?: string): Promise<CliResult>;
    /** `gatehouse client create ...args` (expected to exit 0): the new client's id and secret ('' for a public one). */
    createClient(args: string[]): Promise<{ clientId: string; secret: string }>;
  }>;
  /**
   * Stops {@link initialize}'s up (expected to exit 0), then starts `count` replicas: they get its root key through
   * GATEHOUSE_ROOT_KEY and have no data directory of their own beyond a scratch one; `agent` trusts the platform CA.
   */
  start(count?: number): Promise<{ replicas: ComponentProcess[]; agent: Agent }>;
  /**
   * Closes the agent, stops the replicas (and an up still running), drops the schema, deletes the Redis keys under
   * {@link prefix} and removes the directory; then expects every replica to have exited 0.
   */
  stop(): Promise<void>;
}

/**
 * N `gatehouse identity --config FILE` processes on one PostgreSQL schema and one Redis key prefix of their own,
 * initialized once by `gatehouse up` (never FLUSHALL: only the prefix's keys are deleted).
 *
 * @example
 * const set = identityReplicas('gh-replicas-');
 * const admin = await set.initialize({ issuer: 'https://identity.replicas.test' });
 * expect((await admin.cli(['api', 'create', '--audience', AUDIENCE])).code).toBe(0);
 * const { clientId, secret } = await admin.createClient(['--name', 'billing', '--grant', 'client_credentials']);
 * const { replicas, agent } = await set.start(2);
 * afterAll(() => set.stop());
 */
export function identityReplicas(tmpPrefix: string): IdentityReplicas {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL must be set (e.g. redis://127.0.0.1:6379): the replica tests never skip');
  const tmp = tempDir(tmpPrefix);
  const prefix = `t_${randomBytes(6).toString('hex')}:`;
  const config = join(tmp.dir, 'replica.json');
  const upDir = join(tmp.dir, 'admin');
  const replicas: ComponentProcess[] = [];
  let pg: FreshPostgresSchema | undefined;
  let up: Awaited<ReturnType<typeof startUp>> | undefined;
  let agent: Agent | undefined;
  const stopUp = async () => {
    if (!up) return null;
    if (up.child.exitCode !== null || up.child.signalCode !== null) return up.child.exitCode;
    up.child.kill('SIGTERM');
    return exitOf(up.child);
  };
  return {
    prefix,
    async initialize(identity) {
      pg = await freshPostgresSchema();
      writeFileSync(
        config,
        JSON.stringify({
          log: { level: 'warn' },
          storage: { kind: 'postgres', postgres: { url: pg.url, schema: pg.schema } },
          redis: { url: redisUrl, keyPrefix: prefix },
          listen: { identity: { port: 0 }, identityMtls: { port: 0 } },
          identity,
        }),
      );
      up = await startUp(upDir, { GATEHOUSE_CONFIG: config });
      const cli = (args: string[], input?: string) => runCli([...args, '--json', '--data-dir', upDir], {}, input);
      return {
        cli,
        async createClient(args) {
          const made = await cli(['client', 'create', ...args]);
          expect(made.code, made.stderr).toBe(0);
          const parsed = JSON.parse(made.stdout) as { client_id: string; client_secret?: string };
          return { clientId: parsed.client_id, secret: parsed.client_secret ?? '' };
        },
      };
    },
    async start(count = 2) {
      expect(await stopUp()).toBe(0);
      agent = trustingAgent(join(upDir, 'trust-bundle.pem'));
      const env = { GATEHOUSE_ROOT_KEY: readFileSync(join(upDir, 'root.key'), 'utf8').trim() };
      const started: ComponentProcess[] = [];
      for (let i = 0; i < count; i += 1) {
        const scratch = join(tmp.dir, `replica-${String.fromCharCode(97 + i)}`);
        const replica = await startComponent(['identity', '--config', config, '--data-dir', scratch], env);
        replicas.push(replica);
        started.push(replica);
      }
      return { replicas: started, agent };
    },
    async stop() {
      await agent?.close();
      const codes: number[] = [];
      for (const replica of replicas) codes.push((await replica.stop()) ?? -1);
      await stopUp();
      await pg?.drop();
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      tmp.remove();
      expect(codes.every((code) => code === 0)).toBe(true);
    },
  };
}
