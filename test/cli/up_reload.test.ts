import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitOf, FREE_PORTS, logLines, runCli, spawnSighupAt, startUp } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

async function until(check: () => boolean, what: () => string): Promise<void> {
  for (let i = 0; i < 600 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(check(), what()).toBe(true);
}

// SIGHUP of `gatehouse up` applies the gateway section only (docs/operations.md): every other changed key is named.
describe('gatehouse up on SIGHUP', () => {
  it('names in the log the changed keys that only a restart applies, and still reloads the gateway', async () => {
    const tmp = tempDir('gh-up-reload-');
    const config = join(tmp.dir, 'gatehouse.yaml');
    const route = (prefix: string) =>
      `http:\n  keepAliveTimeout: 5s\ngateway:\n  routes:\n    - { name: open, pathPrefix: ${prefix}, upstream: demo, auth: { kind: none } }\n`;
    writeFileSync(config, route('/open/'));
    const up = await startUp(join(tmp.dir, 'data'), { GATEHOUSE_LOG__LEVEL: 'info' }, ['--config', config]);
    try {
      writeFileSync(config, route('/open2/').replace('keepAliveTimeout: 5s', 'keepAliveTimeout: 7s'));
      process.kill(up.endpoints.pid, 'SIGHUP');
      const ignored = () => logLines(up.output()).find((line) => line.event === 'config_reload_ignored');
      await until(() => ignored() !== undefined, up.output);
      expect(ignored()).toMatchObject({ level: 40, keys: ['http.keepAliveTimeout'] });
      expect(String(ignored()?.msg)).toContain('applied only at restart: http.keepAliveTimeout');
      // Back to the running value: the next reload names nothing.
      const reloads = () => logLines(up.output()).filter((line) => line.event === 'gateway_reload').length;
      await until(() => reloads() === 1, up.output);
      writeFileSync(config, route('/open3/'));
      process.kill(up.endpoints.pid, 'SIGHUP');
      await until(() => reloads() === 2, up.output);
      expect(logLines(up.output()).filter((line) => line.event === 'config_reload_ignored')).toHaveLength(1);
      expect(logLines(up.output()).filter((line) => line.event === 'gateway_reload_failed')).toHaveLength(0);
      process.kill(up.endpoints.pid, 'SIGTERM');
      expect(await exitOf(up.child)).toBe(0);
    } finally {
      if (up.child.exitCode === null) up.child.kill('SIGKILL');
      tmp.remove();
    }
  });

  it('is held while the platform starts instead of killing it', async () => {
    const tmp = tempDir('gh-up-early-hup-');
    const dataDir = join(tmp.dir, 'data');
    // The first line on a first start is the root key warning, logged while the data directory is initialized: long
    // before the listeners run.
    const { child, output, signalled } = spawnSighupAt(
      ['up', '--data-dir', dataDir],
      { ...FREE_PORTS, GATEHOUSE_LOG__LEVEL: 'warn' },
      'beside the data it protects',
    );
    try {
      await until(() => child.exitCode !== null || child.signalCode !== null || output().includes('Try next:'), output);
      expect(signalled()).toBe(true);
      expect(child.signalCode, output()).toBeNull();
      expect(child.exitCode, output()).toBeNull();
      expect(existsSync(join(dataDir, 'endpoints.json'))).toBe(true);
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      tmp.remove();
    }
  });
});

describe('gatehouse up --log-level', () => {
  it('sets log.level over the environment, and a bad level names the flag', async () => {
    const tmp = tempDir('gh-up-log-level-');
    try {
      const bad = await runCli(['up', '--data-dir', join(tmp.dir, 'bad'), '--log-level', 'verbose'], FREE_PORTS);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('config: log.level:');
      expect(bad.stderr).toContain('got "verbose" (from --log-level)');
      expect(existsSync(join(tmp.dir, 'bad'))).toBe(false);
      // The environment says warn (startUp's default), the flag says info: the info lines appear.
      const up = await startUp(join(tmp.dir, 'data'), {}, ['--log-level', 'info']);
      try {
        await until(() => up.output().includes('"msg":"gatehouse is up"'), up.output);
        process.kill(up.endpoints.pid, 'SIGTERM');
        expect(await exitOf(up.child)).toBe(0);
      } finally {
        if (up.child.exitCode === null) up.child.kill('SIGKILL');
      }
    } finally {
      tmp.remove();
    }
  });
});
