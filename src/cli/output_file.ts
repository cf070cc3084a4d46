import { closeSync, createWriteStream, existsSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GatehouseError, fsyncDirectory } from '../core/index.js';

/**
 * Why nothing could be created in `dir`, in words (the error's code otherwise): shared by `--out FILE` and
 * `--out DIR` (output_directory.ts).
 */
export function unwritableReason(err: unknown, dir: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    // A directory that exists but where nothing can be created (/proc) also answers ENOENT.
    return existsSync(dir) && statSync(dir).isDirectory()
      ? `files cannot be created in ${dir}`
      : `directory ${dir} does not exist`;
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return `no permission to write in ${dir}`;
  return code ?? (err as Error).message;
}

/**
 * The `--out FILE` of a command, written atomically: a temporary file beside FILE (0600, created exclusively) that is
 * renamed over FILE only once complete and flushed, and removed on any failure. The temporary file is created by
 * {@link OutputFile.open}, before the command asks the server for anything, so a missing directory, a directory
 * given as FILE or a directory without write permission fails at once with ERR_OUTPUT_FILE instead of after the
 * transfer.
 *
 * @example
 * const out = OutputFile.open(flags.out);
 * await out.write((await client.send('POST', '/v1/backup')).body);
 */
export class OutputFile {
  private fd: number | undefined;

  private constructor(
    readonly file: string,
    private readonly temp: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Creates the temporary file beside `file`; ERR_OUTPUT_FILE when that cannot be done or `file` is a directory. */
  static open(file: string): OutputFile {
    const refuse = (why: string) => new GatehouseError('ERR_OUTPUT_FILE', { message: `cannot write ${file}: ${why}` });
    let isDirectory = false;
    try {
      isDirectory = statSync(file).isDirectory();
    } catch {
      // Absent (the usual case) or unreadable: the open below says what is wrong.
    }
    if (isDirectory) throw refuse('it is a directory');
    const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
    try {
      return new OutputFile(file, temp, openSync(temp, 'wx', 0o600));
    } catch (err) {
      throw refuse(unwritableReason(err, dirname(file)));
    }
  }

  /** Streams `body` into the temporary file, then renames it over the file; on any failure removes it and throws. */
  async write(body: Readable): Promise<void> {
    const fd = this.fd;
    if (fd === undefined) throw new GatehouseError('ERR_INTERNAL', { detail: 'output file already written' });
    this.fd = undefined;
    const sink = createWriteStream('', { fd, flush: true });
    let writeFailure: unknown;
    sink.once('error', (err) => (writeFailure = err));
    try {
      await pipeline(body, sink);
      renameSync(this.temp, this.file);
      fsyncDirectory(dirname(this.file));
    } catch (err) {
      rmSync(this.temp, { force: true });
      // Writing FILE failed half way (a full disk, a quota, a file size limit): typed and naming FILE.
      if (writeFailure !== undefined && err === writeFailure) throw this.writeFailed(err);
      throw err;
    }
  }

  private writeFailed(err: unknown): GatehouseError {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'no space left on the device'
        : code === 'EFBIG'
          ? 'the file grew larger than this process may write (ulimit -f)'
          : unwritableReason(err, dirname(this.file));
    return new GatehouseError('ERR_OUTPUT_FILE', { message: `cannot write ${this.file}: ${why}` });
  }

  /** Removes the temporary file (a command that failed before writing). */
  discard(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.temp, { force: true });
  }
}
