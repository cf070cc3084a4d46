import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { FreshPostgresSchema } from '../support/postgres.js';
import { CLI, exitOf } from '../support/cli.js';

/** A component started alone (`gatehouse identity|kms|ca ...`) as a child process. */
export interface ComponentProcess {
  child: ChildProcess;
  /** The URL printed on the "listening on" line. */
  url: string;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns the built CLI with `args` and resolves once it prints "listening on <url>" (rejects if it exits first). */
export async function startComponent(args: string[], env: Record<string, string> = {}): Promise<ComponentProcess> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GATEHOUSE_LOG__LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exitOf(child);
  };
  for (let i = 0; i < 1200; i += 1) {
    const m = /listening on (https:\/\/\S+)/.exec(out);
    if (m) return { child, url: m[1] as string, output: () => out, stop };
    if (child.exitCode !== null) throw new Error(`gatehouse ${args[0]} exited ${child.exitCode}: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`gatehouse ${args[0]} did not start: ${out}`);
}

/**
 * Two `gatehouse identity --config FILE` replicas on the storage a `gatehouse up` initialized in `upDir`: they get its
 * root key through GATEHOUSE_ROOT_KEY and have no data directory of their own beyond a scratch one under `scratch`.
 */
export async function startIdentityReplicas(
  config: string,
  upDir: string,
  scratch: string,
): Promise<[ComponentProcess, ComponentProcess]> {
  const env = { GATEHOUSE_ROOT_KEY: readFileSync(join(upDir, 'root.key'), 'utf8').trim() };
  const started: ComponentProcess[] = [];
  for (const name of ['a', 'b']) {
    started.push(
      await startComponent(['identity', '--config', config, '--data-dir', join(scratch, `replica-${name}`)], env),
    );
  }
  return started as [ComponentProcess, ComponentProcess];
}

/** Stops the replicas (each must exit 0), drops the PostgreSQL schema and deletes the Redis keys under `prefix`. */
export async function stopReplicas(o: {
  replicas: readonly ComponentProcess[];
  pg: FreshPostgresSchema | undefined;
  redisUrl: string;
  prefix: string;
}): Promise<number[]> {
  const codes: number[] = [];
  for (const replica of o.replicas) codes.push((await replica.stop()) ?? -1);
  await o.pg?.drop();
  const redis = new Redis(o.redisUrl);
  const keys = await redis.keys(`${o.prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  return codes;
}
