import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  exitOf,
  logLines,
  runCli,
  spawnSighupAt,
  startComponent,
  waitForOutput,
  type ComponentProcess,
} from '../support/cli.js';
import { tempDir } from '../support/tmp.js';
import { up } from './object_support.js';

const ignoredLines = (output: string) => logLines(output).filter((line) => line.event === 'config_reload_ignored');

// `gatehouse kms --config FILE` behaves like `gatehouse up` on --log-level and SIGHUP (docs/operations.md).
describe('a component alone: --log-level and SIGHUP', { timeout: 120_000 }, () => {
  const tmp = tempDir('gh-alone-reload-');
  const running: ComponentProcess[] = [];
  afterAll(async () => {
    for (const c of running) await c.stop();
    tmp.remove();
  });
  const config = join(tmp.dir, 'kms.json');
  const write = (o: { keepAlive?: string; routes?: boolean; adminPort?: number } = {}) =>
    writeFileSync(
      config,
      JSON.stringify({
        log: { level: 'warn' },
        http: { keepAliveTimeout: o.keepAlive ?? '5s' },
        listen: { kms: { port: 0 }, admin: { port: o.adminPort ?? 0 } },
        gateway: { trustedProxies: o.routes ? ['10.0.0.0/8'] : [] },
      }),
    );
  const dir = join(tmp.dir, 'data');

  it('takes --log-level over the file and the environment, and names a bad one', async () => {
    write();
    const server = await up(dir);
    server.child.kill('SIGTERM');
    expect(await exitOf(server.child)).toBe(0);
    const bad = await runCli(['kms', '--config', config, '--data-dir', dir, '--log-level', 'verbose']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('got "verbose" (from --log-level)');
    // The file and GATEHOUSE_LOG__LEVEL (startComponent's) say warn; the flag says info: the info line appears.
    const kms = await startComponent(['kms', '--config', config, '--data-dir', dir, '--log-level', 'info']);
    running.push(kms);
    await waitForOutput(kms.output, /"event":"component_up"/);
  });

  it('names on SIGHUP the changed keys it reads (a restart applies them), not those of other verbs', async () => {
    const kms = running[0] as ComponentProcess;
    write({ keepAlive: '7s', routes: true, adminPort: 1 });
    kms.child.kill('SIGHUP');
    await waitForOutput(kms.output, /"event":"config_reload_ignored"/);
    expect(ignoredLines(kms.output())).toMatchObject([{ level: 40, keys: ['http.keepAliveTimeout'] }]);
    expect(kms.output()).toContain('applied only at restart: http.keepAliveTimeout');
    expect(await kms.stop()).toBe(0);
  });

  it('holds a SIGHUP that arrives during start-up and reloads once it runs', async () => {
    write();
    // 'identity.issuer is not set' is logged while the KMS opens its callers' verifier: before its listener runs.
    const { child, output, signalled } = spawnSighupAt(
      ['kms', '--config', config, '--data-dir', dir],
      {},
      'identity.issuer is not set',
      () => write({ keepAlive: '9s' }),
    );
    try {
      await waitForOutput(output, /"event":"config_reload_ignored"/);
      expect(signalled()).toBe(true);
      expect(output()).toContain('gatehouse kms listening on');
      expect(ignoredLines(output())).toMatchObject([{ keys: ['http.keepAliveTimeout'] }]);
      expect(child.signalCode, output()).toBeNull();
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
