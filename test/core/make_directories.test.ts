import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeDirectories } from '../../src/core/index.js';
import { tempDir } from '../support/tmp.js';

const dirs: Array<{ dir: string; remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
const fresh = () => {
  const d = tempDir('gh-mkdir-');
  dirs.push(d);
  return d.dir;
};

// Node's mkdirSync(dir, { recursive: true }) never returns for /proc/x: `gatehouse up --data-dir /proc/x` and
// `gatehouse ca issue --out /proc/x` spun at full CPU.
describe('makeDirectories', () => {
  it('creates missing levels with the mode and accepts an existing directory', () => {
    const base = fresh();
    const target = join(base, 'a', 'b', 'c');
    makeDirectories(target, 0o700);
    expect(statSync(join(base, 'a')).mode & 0o777).toBe(0o700);
    expect(statSync(target).isDirectory()).toBe(true);
    expect(() => makeDirectories(target, 0o700)).not.toThrow();
  });

  it('throws ENOTDIR naming a component that is a file', () => {
    const file = join(fresh(), 'plain');
    writeFileSync(file, 'x');
    expect(() => makeDirectories(join(file, 'x', 'y'), 0o700)).toThrow(
      expect.objectContaining({ code: 'ENOTDIR', path: file }),
    );
  });

  it.runIf(existsSync('/proc/self'))(
    'returns the error of a parent that refuses new entries instead of looping',
    () => {
      expect(() => makeDirectories('/proc/gatehouse-test/x', 0o700)).toThrow(
        expect.objectContaining({ code: 'ENOENT' }),
      );
    },
  );
});
