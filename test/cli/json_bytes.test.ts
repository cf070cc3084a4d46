import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { writeBytesAsJson } from '../../src/cli/json_bytes.js';

async function render(chunks: Buffer[]): Promise<string> {
  const out = new PassThrough();
  const collected = text(out);
  await writeBytesAsJson('data', Readable.from(chunks), out);
  return collected;
}

// The --json form of the byte-output commands (kms encrypt|decrypt|rewrap, object get).
describe('writeBytesAsJson', () => {
  it('streams one JSON document whose base64 decodes to the input, whatever the chunk sizes', async () => {
    const bytes = randomBytes(1000);
    for (const cuts of [[1000], [1, 999], [2, 2, 2, 994], [500, 1, 499]]) {
      const chunks: Buffer[] = [];
      let at = 0;
      for (const n of cuts) chunks.push(bytes.subarray(at, (at += n)));
      const doc = await render(chunks);
      expect(doc.endsWith('}\n')).toBe(true);
      expect(doc.trimEnd().split('\n')).toHaveLength(1);
      expect(Buffer.from((JSON.parse(doc) as { data: string }).data, 'base64')).toEqual(bytes);
    }
  });

  it('prints an empty string for an empty body', async () => {
    expect(await render([])).toBe('{"data":""}\n');
  });

  it('writes nothing when the body fails before its first byte', async () => {
    const out = new PassThrough();
    const written: Buffer[] = [];
    out.on('data', (d: Buffer) => written.push(d));
    const failing = new Readable({
      read() {
        this.destroy(new Error('refused'));
      },
    });
    await expect(writeBytesAsJson('data', failing, out)).rejects.toThrow('refused');
    expect(Buffer.concat(written).length).toBe(0);
  });
});
