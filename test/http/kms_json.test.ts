import { describe, expect, it } from 'vitest';
import { Base64Text, JSON_MEDIA_TYPE, transitJson } from '../../src/http/kms_json.js';

describe('transitJson', () => {
  it('writes a batch answer with the bytes of JSON.stringify, escaping of caller text included', () => {
    const body = {
      data: {
        batch_results: [
          { ciphertext: new Base64Text('gh1:AAAA+/=='), key_version: 3, reference: 'a"b\\c\n' },
          { error: { code: 'ERR_KMS_DECRYPT_FAILED', message: 'nope' }, reference: 'żółw 🐢 \u2028 \ud800' },
          { plaintext: new Base64Text('aGVsbG8='), skipped: undefined, fn: () => 1 },
          { ciphertext: 'not wrapped "quoted"', key_version: 1.5 },
          'odd',
          null,
        ],
      },
    };
    const bytes = transitJson(body);
    expect(bytes.toString('utf8')).toBe(JSON.stringify(body));
    expect(bytes.length).toBe(Buffer.byteLength(JSON.stringify(body)));
    const parsed = JSON.parse(bytes.toString('utf8')) as { data: { batch_results: Array<Record<string, unknown>> } };
    expect(parsed.data.batch_results[0]).toEqual({ ciphertext: 'gh1:AAAA+/==', key_version: 3, reference: 'a"b\\c\n' });
    expect(parsed.data.batch_results[1]?.reference).toBe('żółw 🐢 \u2028 \ud800');
  });

  it('writes single answers and empty batches as JSON.stringify does', () => {
    for (const body of [
      { data: { ciphertext: new Base64Text('gh1:AAAA'), key_version: 1 } },
      { data: { batch_results: [] } },
      { data: { batch_results: [{}], other: 1 } },
    ]) {
      expect(transitJson(body).toString('utf8')).toBe(JSON.stringify(body));
    }
    expect(JSON.parse(transitJson({ data: { plaintext: new Base64Text('aGk=') } }).toString())).toEqual({
      data: { plaintext: 'aGk=' },
    });
  });

  it('names the media type fastify uses for JSON', () => {
    expect(JSON_MEDIA_TYPE).toBe('application/json; charset=utf-8');
  });
});
