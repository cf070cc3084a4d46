import type { IncomingHttpHeaders } from 'node:http';

/** The part of a stored response a request gets. */
export type RangeAnswer =
  { kind: 'whole' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/** The whole representation: no Range, or one that is ignored. */
export const WHOLE_RANGE: RangeAnswer = { kind: 'whole' };
/** RFC 9110 §14.1.1 int-range (`first-last`, `first-`) or suffix-range (`-length`), digits only. */
const RANGE_SPEC = /^(?:(\d{1,15})-(\d{0,15})|-(\d{1,15}))$/;

/** The one field value of a stored header, when it has exactly one. */
function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * RFC 9110 §13.1.5: whether If-Range lets the Range apply. An entity tag must match the stored ETag by the strong
 * comparison (a weak tag on either side never does); a date must equal the stored Last-Modified, which must be strong
 * (at least one second before the stored Date, §8.8.2.2).
 */
function ifRangeHolds(ifRange: string, stored: Record<string, string | string[]>): boolean {
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) {
    const etag = single(stored['etag'])?.trim();
    return etag !== undefined && !value.startsWith('W/') && !etag.startsWith('W/') && etag === value;
  }
  const asked = Date.parse(value);
  const modified = Date.parse(single(stored['last-modified']) ?? '');
  const date = Date.parse(single(stored['date']) ?? '');
  return !Number.isNaN(asked) && asked === modified && !Number.isNaN(date) && date - modified >= 1000;
}

/**
 * The byte ranges of a valid `bytes=` range set (RFC 9110 §14.1.1), clipped to `size`, in the order asked, the
 * unsatisfiable ones left out; undefined when the field is invalid (another unit, a malformed spec, `last < first`),
 * which a server ignores.
 */
function byteRanges(field: string, size: number): Array<{ start: number; end: number }> | undefined {
  const eq = field.indexOf('=');
  if (eq === -1 || field.slice(0, eq).trim().toLowerCase() !== 'bytes') return undefined;
  const out: Array<{ start: number; end: number }> = [];
  let specs = 0;
  for (const part of field.slice(eq + 1).split(',')) {
    const spec = part.trim();
    if (spec === '') continue; // RFC 9110 §5.6.1: empty list elements are ignored
    const m = RANGE_SPEC.exec(spec);
    if (!m) return undefined;
    specs += 1;
    if (m[3] !== undefined) {
      const length = Number(m[3]);
      if (length > 0 && size > 0) out.push({ start: Math.max(0, size - length), end: size - 1 });
      continue;
    }
    const first = Number(m[1]);
    const last = m[2] === '' ? Number.POSITIVE_INFINITY : Number(m[2]);
    if (last < first) return undefined;
    if (first < size) out.push({ start: first, end: Math.min(last, size - 1) });
  }
  return specs === 0 ? undefined : out;
}

/**
 * The byte range (RFC 9110 §14) a GET asks of a stored complete 200 of `size` bytes: one satisfiable range, or
 * several that overlap or touch (one span) → `partial`, 206; a valid range set none of whose ranges exists →
 * `unsatisfiable`, 416. The whole representation (200) for everything a server may ignore: no Range, an invalid one
 * (another unit, a malformed spec), several disjoint ranges (no multipart/byteranges is produced), or an If-Range that
 * does not hold.
 *
 * @example
 * byteRange({ range: 'bytes=0-99' }, stored.headers, stored.body.length); // { kind: 'partial', start: 0, end: 99 }
 */
export function byteRange(
  request: IncomingHttpHeaders,
  stored: Record<string, string | string[]>,
  size: number,
): RangeAnswer {
  const field = request.range;
  // An empty representation has no byte to point at (Content-Range cannot name a part of it): it is sent whole.
  if (field === undefined || size === 0) return WHOLE_RANGE;
  const ifRange = request['if-range'];
  if (ifRange !== undefined && (typeof ifRange !== 'string' || !ifRangeHolds(ifRange, stored))) return WHOLE_RANGE;
  const ranges = byteRanges(field, size);
  if (ranges === undefined) return WHOLE_RANGE;
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  ranges.sort((a, b) => a.start - b.start);
  const first = ranges[0] as { start: number; end: number };
  let end = first.end;
  for (const r of ranges) {
    if (r.start > end + 1) return WHOLE_RANGE; // disjoint: would need multipart/byteranges
    end = Math.max(end, r.end);
  }
  return { kind: 'partial', start: first.start, end };
}
