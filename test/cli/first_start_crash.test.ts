import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, exitOf, runCli, startUp } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

// kill -9 at different moments of a first start: the next start must find either nothing or a complete directory,
// and always end with a working platform.
describe('kill -9 during first start', () => {
  for (const delayMs of [150, 400, 700, 1000]) {
    it(`recovers after SIGKILL at ${delayMs} ms`, async () => {
      const tmp = tempDir('gh-crash-');
      try {
        const child = spawn(process.execPath, [CLI, 'up', '--data-dir', tmp.dir], {
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            GATEHOUSE_LISTEN__ADMIN__PORT: '0',
            GATEHOUSE_LISTEN__KMS__PORT: '0',
            GATEHOUSE_LISTEN__IDENTITY__PORT: '0',
            GATEHOUSE_LISTEN__IDENTITY_MTLS__PORT: '0',
            GATEHOUSE_LOG__LEVEL: 'silent',
          },
          stdio: 'ignore',
        });
        await new Promise((r) => setTimeout(r, delayMs));
        child.kill('SIGKILL');
        await exitOf(child);

        const initialized = existsSync(join(tmp.dir, 'gatehouse.json'));
        if (initialized) {
          for (const f of ['gatehouse.db', 'admin.token', 'root.key']) expect(existsSync(join(tmp.dir, f))).toBe(true);
        }
        const restarted = await startUp(tmp.dir);
        try {
          expect(readdirSync(tmp.dir).filter((n) => n.startsWith('.init-'))).toEqual([]);
          const list = await runCli(['kms', 'key', 'list', '--json', '--data-dir', tmp.dir]);
          expect(list.code, list.stderr).toBe(0);
          expect(JSON.parse(list.stdout)).toEqual({ keys: [] });
        } finally {
          restarted.child.kill('SIGTERM');
          expect(await exitOf(restarted.child)).toBe(0);
        }
      } finally {
        tmp.remove();
      }
    });
  }
});
