import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Base64 of a byte stream, chunk by chunk: each piece encodes a multiple of 3 bytes, the rest is carried over. */
async function* base64Pieces(body: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of body) {
    const bytes = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    const whole = bytes.length - (bytes.length % 3);
    if (whole > 0) yield bytes.subarray(0, whole).toString('base64');
    carry = bytes.subarray(whole);
  }
  if (carry.length > 0) yield carry.toString('base64');
}

/**
 * The `--json` form of a command whose output is bytes (`kms encrypt|decrypt|rewrap`, `object get`): one JSON
 * document `{"<field>":"<base64>"}` and a newline, streamed (any size; base64 needs no escaping inside a JSON
 * string). Nothing is written before the first byte of `body` arrives, so a request refused up front leaves stdout
 * empty.
 *
 * @example
 * await writeBytesAsJson('ciphertext', await client.stream(path, process.stdin), process.stdout);
 */
export async function writeBytesAsJson(field: string, body: Readable, out: Writable): Promise<void> {
  const head = `{${JSON.stringify(field)}:"`;
  async function* document(): AsyncGenerator<string> {
    let started = false;
    for await (const piece of base64Pieces(body as AsyncIterable<Buffer>)) {
      yield started ? piece : head + piece;
      started = true;
    }
    yield started ? '"}\n' : `${head}"}\n`;
  }
  await pipeline(document(), out);
}
