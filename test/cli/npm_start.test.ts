import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitOf } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

// The README's quick start: `npm start` runs `gatehouse up` on embedded defaults.
describe('npm start', () => {
  it('runs gatehouse up and stops cleanly on SIGTERM', async () => {
    const tmp = tempDir('gh-start-');
    const root = resolve(import.meta.dirname, '../..');
    const child = spawn('npm', ['start', '--silent', '--', '--data-dir', tmp.dir], {
      cwd: root,
      // Every port 0: a platform already running on this machine (a developer's own `npm start`) holds the defaults.
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: tmp.dir,
        GATEHOUSE_LISTEN__ADMIN__PORT: '0',
        GATEHOUSE_LISTEN__IDENTITY__PORT: '0',
        GATEHOUSE_LISTEN__IDENTITY_MTLS__PORT: '0',
        GATEHOUSE_LISTEN__KMS__PORT: '0',
        GATEHOUSE_LISTEN__CA__PORT: '0',
        GATEHOUSE_LISTEN__GATEWAY__PORT: '0',
        GATEHOUSE_MESH__DEMO__FRONTEND_PORT: '0',
        GATEHOUSE_MESH__DEMO__BACKEND_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const file = join(tmp.dir, 'endpoints.json');
      // Until endpoints.json appears, or the platform exits (then its output says why).
      for (let i = 0; i < 600 && !existsSync(file) && child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(existsSync(file), out).toBe(true);
      const endpoints = JSON.parse(readFileSync(file, 'utf8'));
      expect(endpoints.admin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      // endpoints.json is written just before the banner is printed: give the pipe a moment (a loaded CI once read
      // stdout between the two).
      for (let i = 0; i < 100 && !out.includes('gatehouse is up'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain('gatehouse is up');
      process.kill(endpoints.pid, 'SIGTERM');
      expect(await exitOf(child)).toBe(0);
      expect(existsSync(file)).toBe(false);
    } finally {
      if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
      tmp.remove();
    }
  });
});
