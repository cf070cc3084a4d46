/** The media type fastify gives a JSON object reply; a pre-serialized transit body is sent with the same one. */
export const JSON_MEDIA_TYPE = 'application/json; charset=utf-8';

const BATCH_OPEN = '{"data":{"batch_results":[';
const BATCH_CLOSE = ']}}';
const COMMA = 0x2c;

/**
 * The JSON bytes of a transit answer, written straight into one Buffer. A batch of 100 items of 1 KiB makes a body of
 * ~150 KiB: serializing each item on its own (JSON.stringify, so escaping is unchanged) and copying it into one buffer
 * of the exact size avoids building, flattening and re-encoding one large string. The bytes parse to the same value as
 * `JSON.stringify(body)`.
 *
 * @example
 * const bytes = transitJson({ data: { batch_results: [{ ciphertext: 'gh1:...', key_version: 1 }] } });
 * reply.type(JSON_MEDIA_TYPE).send(bytes);
 */
export function transitJson(body: { data: Record<string, unknown> }): Buffer {
  const results = body.data.batch_results;
  if (!Array.isArray(results) || Object.keys(body.data).length !== 1) return Buffer.from(JSON.stringify(body));
  const parts = new Array<string>(results.length);
  let size = BATCH_OPEN.length + BATCH_CLOSE.length + Math.max(0, results.length - 1);
  for (let i = 0; i < results.length; i++) {
    const part = JSON.stringify(results[i]) ?? 'null';
    parts[i] = part;
    size += Buffer.byteLength(part, 'utf8');
  }
  const out = Buffer.allocUnsafe(size);
  let at = out.write(BATCH_OPEN, 0, 'latin1');
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) out[at++] = COMMA;
    at += out.write(parts[i] as string, at, 'utf8');
  }
  out.write(BATCH_CLOSE, at, 'latin1');
  return out;
}
