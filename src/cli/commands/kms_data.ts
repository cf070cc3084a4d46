import { createReadStream, createWriteStream, fstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { AdminClient } from '../admin_client.js';
import { writeBytesAsJson } from '../json_bytes.js';
import { OutputFile } from '../output_file.js';
import { print, type Output } from '../output.js';
import { cleanUpOnSignals } from '../signals.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

interface ContextFlags extends AdminFlags {
  context: string[];
}

/** Commander collector for repeatable `--context k=v`. */
function contextPair(value: string, previous: string[]): string[] {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('expected k=v');
  return [...previous, value];
}

function query(params: Array<[string, string]>): string {
  const text = new URLSearchParams(params).toString();
  return text === '' ? '' : `?${text}`;
}

const contextQuery = (context: string[]) => context.map((pair): [string, string] => ['context', pair]);

/**
 * A way to open the ciphertext again and again: stdin itself when it is a regular file, else the copy of stdin this
 * spools into the private directory `spool`.
 */
async function rereadableInput(spool: string | undefined): Promise<() => Readable> {
  if (spool === undefined) return () => createReadStream('', { fd: 0, start: 0, autoClose: false });
  const copy = join(spool, 'ciphertext');
  await pipeline(process.stdin, createWriteStream(copy, { mode: 0o600, flags: 'wx' }));
  return () => createReadStream(copy);
}

/** Raw bytes to stdout, or with --json one document `{ "<field>": "<base64>" }`. */
async function writeBytes(output: Output, field: string, body: Readable): Promise<void> {
  if (output.json) await writeBytesAsJson(field, body, process.stdout);
  else await pipeline(body, process.stdout as Writable);
}

/**
 * Decrypts with verify-before-release: pass 1 has the server authenticate every segment (no plaintext comes back),
 * pass 2 decrypts. With `out`, plaintext goes to a temporary file beside it, renamed over it only on success (and
 * `--json` prints `{ "file", "bytes" }`). Stdin that is not a regular file is spooled to a private directory in
 * $TMPDIR; it and the temporary file are removed however the command ends, SIGINT, SIGTERM and SIGHUP included
 * (then exit 128 + the signal's number).
 */
async function decryptVerified(
  client: AdminClient,
  context: string[],
  out: string | undefined,
  output: Output,
): Promise<void> {
  const file = out === undefined ? undefined : OutputFile.open(out);
  let spool: string | undefined;
  const removeSpool = () => {
    if (spool !== undefined) rmSync(spool, { recursive: true, force: true });
  };
  const release = cleanUpOnSignals(() => {
    removeSpool();
    file?.discard();
  });
  try {
    spool = fstatSync(0).isFile() ? undefined : mkdtempSync(join(tmpdir(), 'gatehouse-kms-'));
    const input = await rereadableInput(spool);
    const verified = await client.stream('/v1/kms/stream/verify' + query(contextQuery(context)), input());
    for await (const chunk of verified) void chunk; // a small JSON answer: the ciphertext is good
    const plaintext = await client.stream('/v1/kms/stream/decrypt' + query(contextQuery(context)), input());
    if (file === undefined) await writeBytes(output, 'plaintext', plaintext);
    else {
      await file.write(plaintext);
      if (output.json) print(output, { file: resolve(file.file), bytes: statSync(file.file).size }, () => '');
    }
  } catch (err) {
    file?.discard();
    throw err;
  } finally {
    removeSpool();
    release();
  }
}

/**
 * Adds the data verbs to `gatehouse kms`: `encrypt`, `decrypt` (verify before release), `rewrap` (stdin to stdout,
 * streaming, any size) and `datakey`.
 *
 * @example
 * addKmsDataCommands(kmsCommand); // gatehouse kms encrypt --key orders --context tenant=acme < plain > cipher
 */
export function addKmsDataCommands(kms: Command): void {
  const withContext = (command: Command) =>
    adminFlags(command).option('--context <k=v>', 'encryption context pair (repeatable)', contextPair, []);

  withContext(kms.command('encrypt').description('envelope-encrypt stdin to stdout (any size, streaming)'))
    .requiredOption('--key <name>', 'named key to encrypt with')
    .action(async (flags: ContextFlags & { key: string }) =>
      withAdmin(flags, async (client, output) => {
        const path = '/v1/kms/stream/encrypt' + query([['key', flags.key], ...contextQuery(flags.context)]);
        await writeBytes(output, 'ciphertext', await client.stream(path, process.stdin));
      }),
    );

  withContext(kms.command('decrypt').description('decrypt stdin; nothing is written unless all of it authenticates'))
    .option('--out <file>', 'write the plaintext to FILE (atomically) instead of stdout')
    .action(async (flags: ContextFlags & { out?: string }) =>
      withAdmin(flags, (client, output) => decryptVerified(client, flags.context, flags.out, output)),
    );

  withContext(kms.command('rewrap').description('rewrap a ciphertext on stdin to the newest key version')).action(
    async (flags: ContextFlags) =>
      withAdmin(flags, async (client, output) => {
        const path = '/v1/kms/stream/rewrap' + query(contextQuery(flags.context));
        await writeBytes(output, 'ciphertext', await client.stream(path, process.stdin));
      }),
  );

  withContext(kms.command('datakey').description('a fresh 256-bit data key, wrapped (and in plaintext)'))
    .requiredOption('--key <name>', 'named key to wrap it with')
    .option('--wrapped-only', 'print only the wrapped form')
    .action(async (flags: ContextFlags & { key: string; wrappedOnly?: boolean }) =>
      withAdmin(flags, async (client, output) => {
        const context = Object.fromEntries(
          flags.context.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
        );
        const result = await client.call<{ data: { plaintext?: string; ciphertext: string; key_version: number } }>(
          'POST',
          '/v1/kms/datakey',
          { key: flags.key, context, wrapped_only: flags.wrappedOnly === true },
        );
        print(output, result.data, (d: { plaintext?: string; ciphertext: string; key_version: number }) =>
          d.plaintext === undefined ? d.ciphertext : `plaintext  ${d.plaintext}\nwrapped    ${d.ciphertext}`,
        );
      }),
    );
}
