import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { openInputFile, readJsonFile } from '../../src/cli/input_file.js';
import { tempDir } from '../support/tmp.js';

const dirs: Array<{ dir: string; remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
const fresh = () => {
  const d = tempDir('gh-in-');
  dirs.push(d);
  return d.dir;
};

// `gatehouse client create --jwks-file DIR/root.key` printed `Unexpected token 'Y', "YQRG9ePzqv"... is not valid
// JSON`: the first characters of the root key, on stderr. `object put --in /missing` printed a raw ENOENT.
describe('input files named on the command line', () => {
  it('reads a JSON file', () => {
    const file = join(fresh(), 'jwks.json');
    writeFileSync(file, '{"keys":[]}');
    expect(readJsonFile(file, '--jwks-file')).toEqual({ keys: [] });
  });

  it('refuses a file that is not JSON without quoting its content', () => {
    const file = join(fresh(), 'root.key');
    const secret = 'YQRG9ePzqviBBdXukSU2secretmaterial';
    writeFileSync(file, secret);
    let caught: unknown;
    try {
      readJsonFile(file, '--jwks-file');
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'ERR_INPUT_FILE', message: `--jwks-file ${file}: not valid JSON` });
    expect((caught as Error).message).not.toContain(secret.slice(0, 4));
  });

  it('refuses a missing file or a directory with ERR_INPUT_FILE', () => {
    const dir = fresh();
    expect(() => readJsonFile(join(dir, 'nope.json'), '--jwks-file')).toThrow(
      expect.objectContaining({
        code: 'ERR_INPUT_FILE',
        message: `--jwks-file ${join(dir, 'nope.json')}: no such file`,
      }),
    );
    expect(() => openInputFile(join(dir, 'nope'), '--in')).toThrow(
      expect.objectContaining({ code: 'ERR_INPUT_FILE', message: `--in ${join(dir, 'nope')}: no such file` }),
    );
    expect(() => openInputFile(dir, '--in')).toThrow(
      expect.objectContaining({ code: 'ERR_INPUT_FILE', message: `--in ${dir}: it is a directory` }),
    );
  });

  it('streams a readable file', async () => {
    const file = join(fresh(), 'object.bin');
    writeFileSync(file, 'hello');
    expect(await text(openInputFile(file, '--in'))).toBe('hello');
  });
});
