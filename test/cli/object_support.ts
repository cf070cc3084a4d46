import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { CLI, exitOf, startUp } from '../support/cli.js';

/** Environment for a `gatehouse up` under test: every listener on a free port, quiet logs. */
export const UP_ENV = {
  GATEHOUSE_LISTEN__IDENTITY__PORT: '0',
  GATEHOUSE_LISTEN__IDENTITY_MTLS__PORT: '0',
  GATEHOUSE_LISTEN__KMS__PORT: '0',
  GATEHOUSE_LISTEN__ADMIN__PORT: '0',
};

export interface BinaryResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `gatehouse ...args` with stdin from a file (as `< FILE` in a shell) or empty, capturing stdout as bytes. */
export function gatehouse(args: string[], options: { stdinFile?: string; env?: Record<string, string> } = {}) {
  const fd = options.stdinFile === undefined ? undefined : openSync(options.stdinFile, 'r');
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env },
    stdio: [fd ?? 'pipe', 'pipe', 'pipe'],
  });
  if (fd !== undefined) closeSync(fd);
  else child.stdin?.end();
  return collect(child);
}

/** Collects a child's stdout (bytes) and stderr (text) until it exits. */
export function collect(child: ChildProcess): Promise<BinaryResult> {
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

/** Starts `gatehouse up` on `dir` with free ports. */
export function up(dir: string, env: Record<string, string> = {}) {
  return startUp(dir, { ...UP_ENV, ...env });
}

/** SIGKILLs a child and waits for it to be gone. */
export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exitOf(child);
  }
}
