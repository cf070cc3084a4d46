import { describe, expect, it } from 'vitest';
import { JSON_MEDIA_TYPE, transitJson } from '../../src/http/kms_json.js';

describe('transitJson', () => {
  it('writes a batch answer that parses to the same value as JSON.stringify, escaping included', () => {
    const body = {
      data: {
        batch_results: [
          { ciphertext: 'gh1:AAAA', key_version: 3, reference: 'a"b\\c\n' },
          { error: { code: 'ERR_KMS_DECRYPT_FAILED', message: 'nope' }, reference: 'żółw 🐢 \u2028' },
          { plaintext: 'aGVsbG8=' },
        ],
      },
    };
    const bytes = transitJson(body);
    expect(bytes.toString('utf8')).toBe(JSON.stringify(body));
    expect(JSON.parse(bytes.toString('utf8'))).toEqual(body);
  });

  it('writes single answers and empty batches as JSON.stringify does', () => {
    for (const body of [
      { data: { ciphertext: 'gh1:AAAA', key_version: 1 } },
      { data: { batch_results: [] } },
      { data: { batch_results: [{}], other: 1 } },
    ]) {
      expect(transitJson(body).toString('utf8')).toBe(JSON.stringify(body));
    }
  });

  it('names the media type fastify uses for JSON', () => {
    expect(JSON_MEDIA_TYPE).toBe('application/json; charset=utf-8');
  });
});
