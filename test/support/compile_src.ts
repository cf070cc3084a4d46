import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Compiles src/<module> (and what it imports) to JavaScript for child processes, which cannot load TypeScript: a
 * fresh directory under node_modules/.cache (so that `pg` and `better-sqlite3` resolve from the repository's
 * node_modules), emitted with `tsc --noCheck` from the same sources the tests import. Returns the directory, whose
 * layout mirrors src/ (e.g. `<dir>/adapters/index.js`).
 *
 * @example
 * const dist = compileSources('adapters');
 * spawn(process.execPath, ['test/adapters/fixtures/child.mjs', dist, 'hold-filelock', path]);
 */
export function compileSources(module: 'adapters' | 'resource'): string {
  const cache = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, `gatehouse-${module}-`));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--outDir', out, '--rootDir', join(ROOT, 'src'), '--module', 'NodeNext', '--moduleResolution'];
  flags.push('NodeNext', '--target', 'ES2022', '--esModuleInterop', '--skipLibCheck', '--types', 'node');
  flags.push('--noCheck', '--declaration', 'false', '--sourceMap', 'false');
  execFileSync(process.execPath, [tsc, ...flags, join(ROOT, 'src', module, 'index.ts')], { cwd: ROOT });
  // The compiled files are ES modules; node_modules/ paths do not inherit the repository's "type": "module".
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  return out;
}
