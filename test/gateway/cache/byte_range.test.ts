import { describe, expect, it } from 'vitest';
import { byteRange } from '../../../src/gateway/cache/byte_range.js';

const MODIFIED = 'Tue, 01 Sep 2026 10:00:00 GMT';
const stored = { etag: '"v1"', 'last-modified': MODIFIED, date: 'Tue, 01 Sep 2026 10:00:05 GMT' };
const ask = (range: string, extra: Record<string, string | string[]> = {}, size = 100, headers = stored) =>
  byteRange({ range, ...extra }, headers, size);

describe('byteRange (RFC 9110 §14)', () => {
  it('reads first-last, first- and -suffix, clipped to the representation', () => {
    expect(ask('bytes=0-9')).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(ask('bytes=90-')).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(ask('bytes=95-500')).toEqual({ kind: 'partial', start: 95, end: 99 });
    expect(ask('bytes=-10')).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(ask('bytes=-500')).toEqual({ kind: 'partial', start: 0, end: 99 }); // longer suffix: the whole, as 206
    expect(ask('BYTES = 1-1')).toEqual({ kind: 'partial', start: 1, end: 1 }); // the unit is case-insensitive
  });

  it('joins ranges that overlap or touch, in any order, and skips empty list elements', () => {
    expect(ask('bytes=10-19, 0-9')).toEqual({ kind: 'partial', start: 0, end: 19 });
    expect(ask('bytes=0-50,20-30')).toEqual({ kind: 'partial', start: 0, end: 50 });
    expect(ask('bytes=, 0-4 ,')).toEqual({ kind: 'partial', start: 0, end: 4 });
    expect(ask('bytes=0-4,200-300')).toEqual({ kind: 'partial', start: 0, end: 4 }); // an unsatisfiable one drops out
  });

  it('is unsatisfiable only when the set is valid and no range starts inside the representation', () => {
    expect(ask('bytes=100-')).toEqual({ kind: 'unsatisfiable' });
    expect(ask('bytes=100-200, 300-')).toEqual({ kind: 'unsatisfiable' });
    expect(ask('bytes=-0')).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores (the whole representation) what a server may ignore', () => {
    for (const range of [
      'bytes=0-1,5-6',
      'items=0-1',
      'bytes=5-2',
      'bytes=a-b',
      'bytes=',
      'bytes=,',
      'bytes 0-1',
      'bytes=1-2-3',
    ]) {
      expect(ask(range), range).toEqual({ kind: 'whole' });
    }
    expect(ask('bytes=-5', {}, 0)).toEqual({ kind: 'whole' }); // nothing to point at in an empty representation
    expect(byteRange({}, stored, 100)).toEqual({ kind: 'whole' });
  });

  it('applies If-Range only on a strong match of the entity tag or of a strong Last-Modified', () => {
    expect(ask('bytes=0-0', { 'if-range': '"v1"' })).toEqual({ kind: 'partial', start: 0, end: 0 });
    expect(ask('bytes=0-0', { 'if-range': '"v2"' })).toEqual({ kind: 'whole' });
    expect(ask('bytes=0-0', { 'if-range': 'W/"v1"' })).toEqual({ kind: 'whole' });
    expect(ask('bytes=0-0', { 'if-range': '"v1"' }, 100, { ...stored, etag: 'W/"v1"' })).toEqual({ kind: 'whole' });
    expect(ask('bytes=0-0', { 'if-range': MODIFIED })).toEqual({ kind: 'partial', start: 0, end: 0 });
    expect(ask('bytes=0-0', { 'if-range': 'Tue, 01 Sep 2026 09:00:00 GMT' })).toEqual({ kind: 'whole' });
    // Last-Modified less than a second before Date is weak: a date If-Range never matches it.
    const weak = { ...stored, date: MODIFIED };
    expect(ask('bytes=0-0', { 'if-range': MODIFIED }, 100, weak)).toEqual({ kind: 'whole' });
    expect(ask('bytes=0-0', { 'if-range': ['"v1"', '"v1"'] })).toEqual({ kind: 'whole' });
  });
});
