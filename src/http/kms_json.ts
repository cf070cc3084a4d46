/** The media type fastify gives a JSON object reply; a pre-serialized transit body is sent with the same one. */
export const JSON_MEDIA_TYPE = 'application/json; charset=utf-8';

const BATCH_OPEN = '{"data":{"batch_results":[';
const BATCH_CLOSE = ']}}';
const COMMA = 0x2c;

/**
 * A string known to need no JSON escaping because the KMS made it: standard base64 (`Buffer#toString('base64')`),
 * optionally after the `gh1:` prefix. It serializes as that string, also through `JSON.stringify` (`toJSON`), so
 * {@link transitJson} can copy it without scanning it for characters to escape. Never wrap text a caller sent.
 *
 * @example
 * const fields = { ciphertext: new Base64Text(envelopeToText(sealed)), key_version: 3 };
 */
export class Base64Text {
  constructor(readonly text: string) {}

  toJSON(): string {
    return this.text;
  }
}

/** One result as JSON, and whether it is pure ASCII (its UTF-8 length is then its length). */
function itemJson(item: unknown): { json: string; ascii: boolean } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return { json: JSON.stringify(item) ?? 'null', ascii: false };
  }
  let json = '{';
  let ascii = true;
  for (const [name, value] of Object.entries(item as Record<string, unknown>)) {
    if (value === undefined) continue;
    // Field names are the route's own snake_case ASCII names; values other than Base64Text go through JSON.stringify.
    const key = json.length === 1 ? `"${name}":` : `,"${name}":`;
    if (value instanceof Base64Text) {
      json += `${key}"${value.text}"`;
    } else if (typeof value === 'number') {
      json += key + JSON.stringify(value);
    } else {
      const text = JSON.stringify(value) as string | undefined;
      if (text === undefined) continue; // functions and symbols are left out, as JSON.stringify does
      json += key + text;
      ascii = false;
    }
  }
  return { json: json + '}', ascii };
}

/**
 * The JSON bytes of a transit answer, written straight into one Buffer of the exact size. A batch of 100 items of
 * 1 KiB makes a body of ~150 KiB: serializing item by item, copying {@link Base64Text} values without an escape scan,
 * avoids building, flattening and re-encoding one large string. The bytes are those of `JSON.stringify(body)`.
 *
 * @example
 * const bytes = transitJson({ data: { batch_results: [{ ciphertext: new Base64Text('gh1:AAAA'), key_version: 1 }] } });
 * reply.type(JSON_MEDIA_TYPE).send(bytes);
 */
export function transitJson(body: { data: Record<string, unknown> }): Buffer {
  const results = body.data.batch_results;
  if (!Array.isArray(results) || Object.keys(body.data).length !== 1) return Buffer.from(JSON.stringify(body));
  const parts = new Array<string>(results.length);
  let size = BATCH_OPEN.length + BATCH_CLOSE.length + Math.max(0, results.length - 1);
  for (let i = 0; i < results.length; i++) {
    const { json, ascii } = itemJson(results[i]);
    parts[i] = json;
    size += ascii ? json.length : Buffer.byteLength(json, 'utf8');
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
