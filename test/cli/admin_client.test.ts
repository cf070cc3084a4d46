import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

// A replica that joined shared storage writes no admin.token: the admin CLI says what to do instead of "ENOENT".
describe('the admin CLI on a data directory without admin.token', () => {
  const tmp = tempDir('gh-admin-client-');
  afterAll(() => tmp.remove());

  it('names the missing file and how to get it', async () => {
    // A live pid (this test process) and an address nobody is asked for: the token is read before any request.
    writeFileSync(
      join(tmp.dir, 'endpoints.json'),
      JSON.stringify({ pid: process.pid, admin: 'https://127.0.0.1:9', trustBundle: join(tmp.dir, 'bundle.pem') }),
    );
    const res = await runCli(['kms', 'key', 'list', '--data-dir', tmp.dir]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain(`${join(tmp.dir, 'admin.token')} does not exist`);
    expect(res.stderr).toContain('copy admin.token from that replica');
  });
});
