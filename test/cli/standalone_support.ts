import { spawn, type ChildProcess } from 'node:child_process';
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
