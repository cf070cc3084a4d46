import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ManualClock, silentLogger } from '../../src/core/index.js';
import { MemoryRecordStore } from '../../src/adapters/index.js';
import { Authority, type SecretVault } from '../../src/pki/index.js';

export const DAY = 86_400_000;
export const TRUST_DOMAIN = 'gatehouse.test';
export const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A Map-backed SecretVault (the port the keyring satisfies in production). */
export class MapVault implements SecretVault {
  readonly secrets = new Map<string, Buffer>();
  async putSecret(name: string, value: Buffer): Promise<void> {
    this.secrets.set(name, Buffer.from(value));
  }
  async getSecret(name: string): Promise<Buffer | undefined> {
    const value = this.secrets.get(name);
    return value && Buffer.from(value);
  }
}

export interface Fixture {
  store: MemoryRecordStore;
  vault: MapVault;
  clock: ManualClock;
  open(overrides?: Partial<Parameters<typeof Authority.open>[0]>): Promise<Authority>;
}

/** A fresh store, vault and clock, and a way to open the CA on them. */
export function fixture(now = T0): Fixture {
  const clock = new ManualClock(now);
  const store = new MemoryRecordStore({ clock });
  const vault = new MapVault();
  return {
    store,
    vault,
    clock,
    open: (overrides = {}) =>
      Authority.open({
        store,
        vault,
        clock,
        trustDomain: TRUST_DOMAIN,
        rootTtlMs: 3650 * DAY,
        intermediateTtlMs: 365 * DAY,
        logger: silentLogger,
        ...overrides,
      }),
  };
}

const run = promisify(execFile);

/** Runs a real binary (openssl, curl); resolves with stdout+stderr and the exit code instead of throwing. */
export async function exec(file: string, args: string[], input?: string): Promise<{ code: number; output: string }> {
  try {
    const child = run(file, args, { timeout: 15_000 });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    const { stdout, stderr } = await child;
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

/** A temp dir with the given files written in it; `cleanup` removes it. */
export async function tempFiles(
  files: Record<string, string>,
): Promise<{ dir: string; path: (n: string) => string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pki-'));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return { dir, path: (n) => join(dir, n), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Splits a PEM bundle into its certificates. */
export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => c + '\n') ?? [];
}
