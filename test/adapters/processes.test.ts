// Crash tests with real child processes: durability of acknowledged writes after SIGKILL, and locks and leases that
// die with their holder. Child processes cannot load TypeScript and we add no TS loader, so beforeAll compiles
// src/adapters (with what it imports) once into a temp directory under node_modules/.cache with `tsc --noCheck`
// (see test/support/compile_src.ts); the fixture test/adapters/fixtures/child.mjs imports that output.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PostgresLeases,
  PostgresRecordStore,
  SqliteLeases,
  SqliteRecordStore,
  acquireFileLock,
  type FileLock,
} from '../../src/adapters/index.js';
import { ManualClock, type Lease, type RecordStore } from '../../src/core/index.js';
import { compileSources } from '../support/compile_src.js';
import { freshPostgresSchema, type FreshPostgresSchema } from '../support/postgres.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/child.mjs', import.meta.url));
const ACKS_BEFORE_KILL = 150;

let dist: string;
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(() => {
  dist = compileSources('adapters');
});
afterAll(() => {
  rmSync(dist, { recursive: true, force: true });
});
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-proc-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function fresh(): Promise<FreshPostgresSchema> {
  const s = await freshPostgresSchema();
  cleanups.push(() => s.drop());
  return s;
}

/** Starts the fixture; resolves once `ready(lines)` holds for its stdout lines, rejecting if it exits first. */
function startChild(
  args: string[],
  ready: (lines: string[]) => boolean,
): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, [FIXTURE, dist, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      if (ready(lines)) resolve({ child, lines });
    });
    child.on('close', (code, signal) => reject(new Error(`child exited (${code ?? signal}): ${stderr}`)));
  });
}

/** SIGKILLs the child and waits until the OS has reaped it; returns every complete line it printed. */
async function killHard(child: ChildProcess, lines: string[]): Promise<string[]> {
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGKILL');
  await exited;
  return [...lines];
}

async function expectAllAcknowledged(store: RecordStore, lines: string[]): Promise<void> {
  const acked = lines.filter((l) => l.startsWith('ack ')).map((l) => l.slice(4));
  expect(acked.length).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);
  const stored = new Set((await store.list('durable')).map((r) => r.key));
  const missing = acked.filter((key) => !stored.has(key));
  expect(missing).toEqual([]);
  const last = acked.at(-1) as string;
  expect(await store.get('durable', last)).toMatchObject({ value: { i: Number(last.slice(1)) }, version: 1 });
}

const enoughAcks = (lines: string[]) => lines.filter((l) => l.startsWith('ack ')).length >= ACKS_BEFORE_KILL;

/** Retries `attempt` until it gives a value: the server notices a killed client's socket closing asynchronously. */
async function eventually<T>(attempt: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i += 1) {
    const value = await attempt();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('gave up waiting');
}

describe('durability of acknowledged writes across SIGKILL', () => {
  it('SQLite keeps every acknowledged record', async () => {
    const file = join(tempDir(), 'gatehouse.db');
    const { child, lines } = await startChild(['write-sqlite', file], enoughAcks);
    const printed = await killHard(child, lines);
    const store = SqliteRecordStore.open({ file, clock: new ManualClock(0), busyTimeoutMs: 5000 });
    cleanups.push(() => store.close());
    await expectAllAcknowledged(store, printed);
  });

  it('PostgreSQL keeps every acknowledged record', async () => {
    const { url, schema } = await fresh();
    const { child, lines } = await startChild(['write-postgres', url, schema], enoughAcks);
    const printed = await killHard(child, lines);
    const store = await PostgresRecordStore.open({ url, schema, poolSize: 1, ssl: false, clock: new ManualClock(0) });
    cleanups.push(() => store.close());
    await expectAllAcknowledged(store, printed);
  });
});

describe('locks and leases die with their holder', () => {
  const held = (lines: string[]) => lines.includes('held');

  it('acquireFileLock: busy while another process holds it, free after that process is killed', async () => {
    const path = join(tempDir(), 'lock');
    const { child, lines } = await startChild(['hold-filelock', path], held);
    expect(acquireFileLock(path)).toBeUndefined();
    await killHard(child, lines);
    const lock = acquireFileLock(path) as FileLock;
    expect(lock).toBeDefined();
    cleanups.push(() => lock.release());
    await expect(startChild(['hold-filelock', path], (l) => l.includes('busy'))).resolves.toBeDefined();
  });

  it('SqliteLeases: busy while another process holds it, free after that process is killed', async () => {
    const dir = join(tempDir(), 'leases');
    const { child, lines } = await startChild(['hold-sqlite-lease', dir, 'rotation'], held);
    const leases = new SqliteLeases({ dir });
    cleanups.push(() => leases.close());
    expect(await leases.tryAcquire('rotation')).toBeUndefined();
    expect(await leases.tryAcquire('other')).toBeDefined();
    await killHard(child, lines);
    const lease = (await leases.tryAcquire('rotation')) as Lease;
    expect(lease.name).toBe('rotation');
  });

  it('PostgresLeases: busy while another process holds it, free after that process is killed', async () => {
    const { url, schema } = await fresh();
    const { child, lines } = await startChild(['hold-postgres-lease', url, schema, 'rotation'], held);
    const leases = new PostgresLeases({ url, ssl: false, schema });
    cleanups.push(() => leases.close());
    expect(await leases.tryAcquire('rotation')).toBeUndefined();
    await killHard(child, lines);
    const lease = await eventually(() => leases.tryAcquire('rotation'));
    expect(lease.name).toBe('rotation');
  });
});
