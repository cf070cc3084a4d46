import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The deliberate entry points of package.json#exports resolve from the built package, as a user imports them.
describe('package exports', () => {
  it('exposes gatehouse and gatehouse/resource, and nothing internal', () => {
    const root = resolve(import.meta.dirname, '../..');
    const script = `
      const main = await import('gatehouse');
      const resource = await import('gatehouse/resource');
      let internal = 'resolved';
      try { await import('gatehouse/dist/kms/index.js'); } catch (e) { internal = e.code; }
      console.log(JSON.stringify({ main: typeof main.loadConfig, verifier: typeof resource.createVerifier, internal }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      main: 'function',
      verifier: 'function',
      internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });
});
