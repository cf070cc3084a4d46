import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { GatehouseError, isGatehouseError, type ErrorCode } from '../../core/index.js';
import { StreamingAdminClient } from '../object_client.js';
import { openInputFile } from '../input_file.js';
import { writeBytesAsJson } from '../json_bytes.js';
import { OutputFile } from '../output_file.js';
import { columns, print } from '../output.js';
import { adminFlags, type AdminFlags } from './with_admin.js';

interface ObjectView {
  bucket: string;
  key: string;
  size: number;
  key_name: string;
  key_version: number;
  created_at: number;
}

interface RewrapReportView {
  bucket: string;
  key_name: string;
  target_version: number;
  done: number;
  total: number;
  rewrapped: number;
  skipped: number;
  failed: number;
  resumed: boolean;
}

/** `BUCKET/KEY` → its parts (the key may hold more slashes). */
function bucketAndKey(value: string): { bucket: string; key: string } {
  const at = value.indexOf('/');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError('expected BUCKET/KEY');
  return { bucket: value.slice(0, at), key: value.slice(at + 1) };
}

const objectPath = (bucket: string, key: string) =>
  `/v1/objects/${encodeURIComponent(bucket)}/${encodeURIComponent(key)}`;

async function withClient<T>(flags: AdminFlags, fn: (client: StreamingAdminClient) => Promise<T>): Promise<T> {
  const client = StreamingAdminClient.connect(flags.dataDir);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** `object get`: raw bytes, or with --json `{ "data": "<base64>" }` (stdout) or `{ "file", "bytes" }` (--out). */
async function get(
  client: StreamingAdminClient,
  target: string,
  out: string | undefined,
  json: boolean,
): Promise<void> {
  const { bucket, key } = bucketAndKey(target);
  if (out === undefined) {
    // Verify before release: the server authenticates the whole object before it sends the first byte.
    const answer = await client.send('GET', `${objectPath(bucket, key)}?verify=first`);
    if (json) await writeBytesAsJson('data', answer.body, process.stdout);
    else await pipeline(answer.body, process.stdout as Writable);
    return;
  }
  const file = OutputFile.open(out);
  try {
    // Verify first here too: a tampered object fails with ERR_KMS_DECRYPT_FAILED before any byte, not by an abort.
    await file.write((await client.send('GET', `${objectPath(bucket, key)}?verify=first`)).body);
  } catch (err) {
    file.discard();
    throw err;
  }
  if (json) print({ json }, { file: resolve(file.file), bytes: statSync(file.file).size }, () => '');
}

/** Runs the rewrap, printing each NDJSON progress line to stderr; returns the final report. */
async function rewrap(client: StreamingAdminClient, bucket: string, quiet: boolean): Promise<RewrapReportView> {
  const answer = await client.send('POST', `/v1/objects/${encodeURIComponent(bucket)}/rewrap`, Readable.from([]));
  let report: RewrapReportView | undefined;
  try {
    report = await readRewrapLines(answer.body, bucket, quiet);
  } catch (err) {
    if (!isGatehouseError(err, 'ERR_TRANSFER_ABORTED')) throw err;
    report = undefined;
  }
  if (!report) {
    throw new GatehouseError('ERR_TRANSFER_ABORTED', {
      message: `rewrap of ${bucket} was interrupted; run it again to resume`,
    });
  }
  return report;
}

/** Prints the NDJSON progress lines of a rewrap to stderr; the final report, or undefined when none came. */
async function readRewrapLines(body: Readable, bucket: string, quiet: boolean): Promise<RewrapReportView | undefined> {
  let report: RewrapReportView | undefined;
  for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    const event = JSON.parse(line) as { type: string; code?: string; message?: string } & RewrapReportView;
    if (event.type === 'progress' && !quiet) {
      process.stderr.write(`rewrap ${bucket}: ${event.done}/${event.total} (rewrapped ${event.rewrapped})\n`);
    } else if (event.type === 'report') {
      report = event;
    } else if (event.type === 'error') {
      throw new GatehouseError((event.code ?? 'ERR_INTERNAL') as ErrorCode, { message: event.message ?? 'failed' });
    }
  }
  return report;
}

/** `gatehouse object ...`: the encrypted object store of the running gatehouse. */
export function objectCommand(): Command {
  const object = new Command('object').description('encrypted object store (buckets of envelope-encrypted objects)');

  adminFlags(object.command('put <bucket/key>').description('store stdin (or --in FILE) as an object'))
    .option('--in <file>', 'read the object from FILE instead of stdin')
    .option('--key <name>', 'KMS key of a new bucket (default bucket-<name>)')
    .action(async (target: string, flags: AdminFlags & { in?: string; key?: string }) =>
      withClient(flags, async (client) => {
        const { bucket, key } = bucketAndKey(target);
        const source = flags.in === undefined ? process.stdin : openInputFile(flags.in, '--in');
        const query = flags.key === undefined ? '' : `?key_name=${encodeURIComponent(flags.key)}`;
        const info = await client.json<ObjectView>('PUT', objectPath(bucket, key) + query, source);
        print({ json: flags.json === true }, info, (o: ObjectView) => {
          return `stored ${o.bucket}/${o.key} (${o.size} bytes, key ${o.key_name} v${o.key_version})`;
        });
      }),
    );

  adminFlags(object.command('get <bucket/key>').description('write an object to stdout (verified first) or --out'))
    .option('--out <file>', 'write to FILE atomically (temp file renamed only when complete)')
    .action(async (target: string, flags: AdminFlags & { out?: string }) =>
      withClient(flags, (client) => get(client, target, flags.out, flags.json === true)),
    );

  adminFlags(object.command('ls [bucket]').description('list buckets, or the objects of BUCKET[/PREFIX]'))
    .option('--prefix <prefix>', 'only keys starting with PREFIX')
    .action(async (target: string | undefined, flags: AdminFlags & { prefix?: string }) =>
      withClient(flags, async (client) => {
        const output = { json: flags.json === true };
        if (target === undefined) {
          const result = await client.json<{ buckets: Array<{ name: string; key_name: string }> }>(
            'GET',
            '/v1/objects',
          );
          print(output, result, (r: typeof result) =>
            r.buckets.length === 0 ? 'no buckets' : columns(r.buckets.map((b) => [b.name, `key ${b.key_name}`])),
          );
          return;
        }
        const at = target.indexOf('/');
        const bucket = at < 0 ? target : target.slice(0, at);
        const prefix = flags.prefix ?? (at < 0 ? '' : target.slice(at + 1));
        const query = prefix === '' ? '' : `?prefix=${encodeURIComponent(prefix)}`;
        const result = await client.json<{ objects: ObjectView[] }>(
          'GET',
          `/v1/objects/${encodeURIComponent(bucket)}${query}`,
        );
        print(output, result, (r: typeof result) =>
          r.objects.length === 0
            ? 'no objects'
            : r.objects.map((o) => `${o.size}\tv${o.key_version}\t${o.key}`).join('\n'),
        );
      }),
    );

  adminFlags(object.command('rm <bucket/key>').description('delete an object')).action(
    async (target: string, flags: AdminFlags) =>
      withClient(flags, async (client) => {
        const { bucket, key } = bucketAndKey(target);
        const info = await client.json<ObjectView>('DELETE', objectPath(bucket, key));
        print({ json: flags.json === true }, info, (o: ObjectView) => `removed ${o.bucket}/${o.key}`);
      }),
  );

  adminFlags(
    object
      .command('rewrap <bucket>')
      .description('rewrap every object under the newest key version (resumable; progress on stderr)'),
  )
    .option('--quiet', 'no progress lines')
    .action(async (bucket: string, flags: AdminFlags & { quiet?: boolean }) =>
      withClient(flags, async (client) => {
        const report = await rewrap(client, bucket, flags.quiet === true);
        print(
          { json: flags.json === true },
          report,
          (r: RewrapReportView) =>
            `rewrap of ${r.bucket} done${r.resumed ? ' (resumed)' : ''}: ${r.rewrapped} rewrapped, ${r.skipped} skipped, ${r.failed} failed, ${r.total} objects now under ${r.key_name} v${r.target_version}`,
        );
      }),
    );
  return object;
}
