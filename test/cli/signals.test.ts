import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = (path: string) => pathToFileURL(resolve(import.meta.dirname, '../../dist', path)).href;

/** Runs a small ES module in a child Node process; resolves with its exit code, signal and stdout. */
async function runScript(source: string) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal, out };
}

describe('exitOnSignals', () => {
  it('remembers a SIGTERM that arrives while the command starts, and stops it cleanly once it runs', async () => {
    const result = await runScript(`
      import { exitOnSignals } from '${dist('cli/signals.js')}';
      import { silentLogger } from '${dist('core/index.js')}';
      const stopWith = exitOnSignals(silentLogger, 'stopping');
      process.kill(process.pid, 'SIGTERM'); // during "startup": Node's default would kill the process here
      setTimeout(() => {
        console.log('started');
        stopWith(async () => console.log('stop ran'));
      }, 200);
    `);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.out).toBe('started\nstop ran\n');
  });

  it('stops on a signal after start, and exits 1 with the reason when stopping fails', async () => {
    const result = await runScript(`
      import { exitOnSignals } from '${dist('cli/signals.js')}';
      import { silentLogger } from '${dist('core/index.js')}';
      exitOnSignals(silentLogger, 'stopping')(async () => { throw new Error('disk gone'); });
      setTimeout(() => process.kill(process.pid, 'SIGINT'), 50);
      setTimeout(() => {}, 5000);
    `);
    expect(result.code).toBe(1);
    expect(result.out).toContain('gatehouse: stop failed: disk gone');
  });
});

describe('cleanUpOnSignals', () => {
  it('a signal before release runs the cleanup and exits 128 + its number; release removes every handler', async () => {
    const result = await runScript(`
      import { cleanUpOnSignals } from '${dist('cli/signals.js')}';
      const count = () => ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s)).join(',');
      const before = count();
      const release = cleanUpOnSignals(() => console.log('not run'));
      const during = count();
      release();
      console.log(before, during, count());
      cleanUpOnSignals(() => console.log('cleaned'));
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => {}, 5000);
    `);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(143);
    expect(result.out).toBe('0,0,0 1,1,1 0,0,0\ncleaned\n');
  });

  it('a signal after release is no longer caught: the default action ends the process', async () => {
    const result = await runScript(`
      import { cleanUpOnSignals } from '${dist('cli/signals.js')}';
      cleanUpOnSignals(() => console.log('not run'))();
      process.kill(process.pid, 'SIGHUP');
      setTimeout(() => {}, 5000);
    `);
    expect(result.signal).toBe('SIGHUP');
    expect(result.out).toBe('');
  });
});
