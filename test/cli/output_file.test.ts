import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputFile } from '../../src/cli/output_file.js';
import { tempDir } from '../support/tmp.js';

const dirs: Array<{ dir: string; remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
const fresh = () => {
  const d = tempDir('gh-out-');
  dirs.push(d);
  return d.dir;
};

// `gatehouse backup --out /missing/dir/b.tar` asked the server for the whole backup first, then failed with
// "ENOENT: ... open '/missing/dir/.b.tar.1234.tmp'", naming a file the user never chose.
describe('OutputFile (the --out FILE of the CLI)', () => {
  it('refuses at open, before anything is fetched, with ERR_OUTPUT_FILE saying why', () => {
    const dir = fresh();
    expect(() => OutputFile.open(join(dir, 'missing', 'b.tar'))).toThrow(
      expect.objectContaining({
        code: 'ERR_OUTPUT_FILE',
        message: `cannot write ${join(dir, 'missing', 'b.tar')}: directory ${join(dir, 'missing')} does not exist`,
      }),
    );
    expect(() => OutputFile.open(dir)).toThrow(
      expect.objectContaining({ code: 'ERR_OUTPUT_FILE', message: `cannot write ${dir}: it is a directory` }),
    );
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      mkdirSync(locked, { mode: 0o500 });
      expect(() => OutputFile.open(join(locked, 'x'))).toThrow(expect.objectContaining({ code: 'ERR_OUTPUT_FILE' }));
      chmodSync(locked, 0o700);
    }
  });

  // `kms decrypt --out /proc/version` said "directory /proc does not exist".
  it.runIf(existsSync('/proc/self'))('says so when the directory exists but nothing can be created in it', () => {
    expect(() => OutputFile.open('/proc/version')).toThrow(
      expect.objectContaining({
        code: 'ERR_OUTPUT_FILE',
        message: 'cannot write /proc/version: files cannot be created in /proc',
      }),
    );
  });

  it('writes atomically: 0600, the whole content, no temporary file left', async () => {
    const dir = fresh();
    const file = join(dir, 'out.bin');
    const out = OutputFile.open(file);
    expect(existsSync(file)).toBe(false);
    await out.write(Readable.from([Buffer.from('hello '), Buffer.from('world')]));
    expect(readFileSync(file, 'utf8')).toBe('hello world');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['out.bin']);
  });

  it('leaves nothing when the stream fails or the command gives up, and keeps an older FILE', async () => {
    const dir = fresh();
    const file = join(dir, 'out.bin');
    const first = OutputFile.open(file);
    await first.write(Readable.from([Buffer.from('old')]));
    const failing = OutputFile.open(file);
    const broken = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy(new Error('upstream went away'));
      },
    });
    await expect(failing.write(broken)).rejects.toThrow('upstream went away');
    OutputFile.open(file).discard();
    expect(readdirSync(dir)).toEqual(['out.bin']);
    expect(readFileSync(file, 'utf8')).toBe('old');
  });
});
