import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, exitOf, logLines, runCli, waitForOutput } from '../support/cli.js';
import { sidecarWorkspace } from './ca_service.js';
import { id, TD } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

// `gatehouse sidecar` behaves like `gatehouse up` on --log-level and SIGHUP (docs/mesh.md).
describe('gatehouse sidecar: --log-level, keys a restart applies, SIGHUP during start-up (built CLI)', () => {
  it('names log.level on SIGHUP while applying the section, and holds a SIGHUP that arrives during start-up', async () => {
    const { dir, ca, ordersId, tokenFile, app } = await sidecarWorkspace('gh-sidecar-ignored-', cleanups);
    const file = join(dir, 'sidecar.json');
    const write = (o: { level: string; allow: string }) =>
      writeFileSync(
        file,
        JSON.stringify({
          trustDomain: TD,
          log: { level: o.level },
          sidecar: {
            spiffeId: ordersId,
            joinTokenFile: tokenFile,
            ca: { url: ca.url, bundleFile: ca.bundleFile },
            inbound: { port: 0, app: app.address },
            policies: [{ name: 'one-caller', action: 'ALLOW', rules: [{ from: [{ principals: [o.allow] }] }] }],
          },
        }),
      );
    write({ level: 'warn', allow: id('web') });

    const bad = await runCli(['sidecar', '--config', file, '--log-level', 'loud']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('got "loud" (from --log-level)');

    // Starts the sidecar; at the first info line (logged while the SVID is bootstrapped, before the sidecar serves)
    // rewrites the file and sends SIGHUP, which is held and reloads once the sidecar runs.
    const start = async (args: string[], during: { level: string; allow: string }) => {
      writeFileSync(tokenFile, await ca.joinToken(ordersId), { mode: 0o600 });
      const child = spawn(process.execPath, [CLI, 'sidecar', '--config', file, ...args], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      cleanups.push(() => void child.kill('SIGKILL'));
      let out = '';
      let signalled = false;
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
        if (!signalled && out.includes('"level":30')) {
          signalled = true;
          write(during);
          child.kill('SIGHUP');
        }
      });
      await waitForOutput(() => out, /gatehouse sidecar is up/);
      await waitForOutput(() => out, /gatehouse sidecar: configuration reloaded/);
      expect(signalled).toBe(true);
      expect(out.indexOf('gatehouse sidecar is up')).toBeLessThan(out.indexOf('configuration reloaded'));
      return { child, output: () => out };
    };
    const ignored = (out: string) => logLines(out).filter((line) => line.event === 'config_reload_ignored');

    // --log-level info wins over the file's warn (the info line that triggers the SIGHUP shows it), at start and at
    // the re-read: a log.level changed in the file is not named.
    const flagged = await start(['--log-level', 'info'], { level: 'debug', allow: id('other') });
    expect(ignored(flagged.output())).toEqual([]);
    flagged.child.kill('SIGTERM');
    expect(await exitOf(flagged.child)).toBe(0);

    // Without the flag: the policies apply, the changed log.level is named (only a restart applies it).
    write({ level: 'info', allow: id('web') });
    const plain = await start([], { level: 'debug', allow: id('other') });
    expect(ignored(plain.output())).toMatchObject([{ level: 40, keys: ['log.level'] }]);
    expect(plain.output()).toContain('applied only at restart: log.level');
    expect(logLines(plain.output()).filter((line) => line.event === 'sidecar_reload_failed')).toHaveLength(0);
    plain.child.kill('SIGTERM');
    expect(await exitOf(plain.child)).toBe(0);
  });
});
