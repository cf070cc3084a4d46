import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareOutputDirectory } from '../../src/cli/output_directory.js';
import { tempDir } from '../support/tmp.js';

const dirs: Array<{ dir: string; remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
const fresh = () => {
  const d = tempDir('gh-outdir-');
  dirs.push(d);
  return d.dir;
};

// `gatehouse ca issue --out /proc/x` spun forever at full CPU (Node's recursive mkdir loops on a parent that answers
// ENOENT), and `--out FILE` failed with a raw "EEXIST: file already exists, mkdir" only after the CA had signed.
describe('prepareOutputDirectory (the --out DIR of ca issue)', () => {
  it('creates DIR and its missing parents 0700 and leaves no probe file', () => {
    const base = fresh();
    const target = join(base, 'a', 'b');
    expect(prepareOutputDirectory(target)).toBe(target);
    expect(statSync(join(base, 'a')).mode & 0o777).toBe(0o700);
    expect(statSync(target).mode & 0o777).toBe(0o700);
    expect(readdirSync(target)).toEqual([]);
    expect(prepareOutputDirectory(target)).toBe(target); // an existing directory is fine
  });

  it('refuses a file, or a path through a file, with ERR_OUTPUT_FILE and creates nothing', () => {
    const base = fresh();
    const file = join(base, 'plain.txt');
    writeFileSync(file, 'x');
    expect(() => prepareOutputDirectory(file)).toThrow(
      expect.objectContaining({ code: 'ERR_OUTPUT_FILE', message: `cannot write ${file}: ${file} is not a directory` }),
    );
    expect(() => prepareOutputDirectory(join(file, 'sub'))).toThrow(
      expect.objectContaining({
        code: 'ERR_OUTPUT_FILE',
        message: expect.stringContaining(`${file} is not a directory`),
      }),
    );
  });

  it.runIf(existsSync('/proc/self'))('refuses a directory where nothing can be created instead of looping', () => {
    expect(() => prepareOutputDirectory('/proc/gatehouse-test')).toThrow(
      expect.objectContaining({
        code: 'ERR_OUTPUT_FILE',
        message: 'cannot write /proc/gatehouse-test: files cannot be created in /proc',
      }),
    );
  });
});
