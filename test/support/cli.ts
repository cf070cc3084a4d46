import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The built CLI (`npm test` builds before running the tests). */
export const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `gatehouse ...args` to completion. */
export function runCli(args: string[], env: Record<string, string> = {}, input?: string): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/**
 * Every listener of `gatehouse up` on a free port, the demo mesh's sidecars too: a test never binds the platform's
 * default ports (8440, 8443-8447, 15001/15002).
 */
export const FREE_PORTS: Readonly<Record<string, string>> = {
  GATEHOUSE_LISTEN__ADMIN__PORT: '0',
  GATEHOUSE_LISTEN__KMS__PORT: '0',
  GATEHOUSE_LISTEN__IDENTITY__PORT: '0',
  GATEHOUSE_LISTEN__IDENTITY_MTLS__PORT: '0',
  GATEHOUSE_LISTEN__CA__PORT: '0',
  GATEHOUSE_LISTEN__GATEWAY__PORT: '0',
  GATEHOUSE_MESH__DEMO__FRONTEND_PORT: '0',
  GATEHOUSE_MESH__DEMO__BACKEND_PORT: '0',
};

/** The JSON log lines of a child's output (the banner and other text lines left out). */
export function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Starts `gatehouse up` in the background; resolves when endpoints.json appears (or rejects if it exits first). */
export async function startUp(
  dataDir: string,
  env: Record<string, string> = {},
  extraArgs: string[] = [],
): Promise<{
  child: ChildProcess;
  endpoints: { pid: number; admin: string; trustBundle: string };
  output: () => string;
}> {
  const child = spawn(process.execPath, [CLI, 'up', '--data-dir', dataDir, ...extraArgs], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...FREE_PORTS,
      GATEHOUSE_LOG__LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const file = join(dataDir, 'endpoints.json');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gatehouse up exited ${child.exitCode}: ${output}`);
    if (existsSync(file)) {
      try {
        const endpoints = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; admin: string; trustBundle: string };
        // endpoints.json is written just before the banner: wait for both, so callers can read the banner.
        if (endpoints.pid === child.pid && output.includes('Try next:'))
          return { child, endpoints, output: () => output };
      } catch {
        // written atomically, but the file may be replaced between exists and read
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`gatehouse up did not become ready: ${output}`);
}

/** A component started alone (`gatehouse identity|kms|ca ...`) as a child process. */
export interface ComponentProcess {
  child: ChildProcess;
  /** The URL printed on the "listening on" line. */
  url: string;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Spawns the built CLI with `args` and resolves once it prints "listening on <url>" (rejects if it exits first).
 *
 * @example
 * const kms = await startComponent(['kms', '--config', config, '--data-dir', dir]);
 * expect(await kms.stop()).toBe(0);
 */
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
 * Spawns the built CLI with `args` (its environment PATH and `env`) and sends it one SIGHUP as soon as its stderr
 * shows `marker` (a line logged during start-up, say), after running `beforeHup`.
 *
 * @example
 * const kms = spawnSighupAt(['kms', '--config', config], {}, 'identity.issuer is not set', () => write());
 * await waitForOutput(kms.output, /"event":"config_reload_ignored"/);
 * expect(kms.signalled()).toBe(true);
 */
export function spawnSighupAt(
  args: string[],
  env: Record<string, string>,
  marker: string,
  beforeHup: () => void = () => {},
): { child: ChildProcess; output(): string; signalled(): boolean } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let signalled = false;
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
    if (!signalled && output.includes(marker)) {
      signalled = true;
      beforeHup();
      child.kill('SIGHUP');
    }
  });
  return { child, output: () => output, signalled: () => signalled };
}

/** Waits for a child to exit and returns its code. */
export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

/**
 * Waits until `read()` (a child's output so far) matches `pattern`, polling every 50 ms for up to 30 s; the error
 * names `what` (the pattern by default) and the end of the output.
 */
export async function waitForOutput(
  read: () => string,
  pattern: RegExp,
  what = String(pattern),
): Promise<RegExpExecArray> {
  for (let i = 0; i < 600; i += 1) {
    const m = pattern.exec(read());
    if (m) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}: ${read().slice(-2000)}`);
}
