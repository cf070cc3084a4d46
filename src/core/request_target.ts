/** What {@link normalizeRequestTarget} refuses, in the words the 400 answers use (gateway and sidecar alike). */
export const REQUEST_TARGET_RULE =
  'the request target must be an origin-form path without a fragment or a raw backslash, with well-formed percent-escapes';

/** Hex digit values by char code (-1 for anything else). */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;

/** RFC 3986 §2.3 unreserved characters: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function unreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

/**
 * RFC 3986 §6.2.2.1–2: escapes of unreserved characters decoded, every other escape in uppercase hex. Undefined when
 * an escape is malformed (`%` not followed by two hex digits).
 */
function normalizeEscapes(text: string): string | undefined {
  if (!text.includes('%')) return text;
  let out = '';
  let from = 0;
  for (let i = text.indexOf('%'); i !== -1; i = text.indexOf('%', from)) {
    const hi = HEX[text.charCodeAt(i + 1)] ?? -1;
    const lo = HEX[text.charCodeAt(i + 2)] ?? -1;
    if (hi < 0 || lo < 0) return undefined;
    const code = hi * 16 + lo;
    out += text.slice(from, i) + (unreserved(code) ? String.fromCharCode(code) : text.slice(i, i + 3).toUpperCase());
    from = i + 3;
  }
  return out + text.slice(from);
}

/** RFC 3986 §5.2.4 remove_dot_segments on an absolute path. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] as string;
    const last = i === segments.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      if (last) out.push(''); // "/a/." and "/a/b/.." end in a slash
    } else {
      out.push(s);
    }
  }
  return '/' + out.join('/');
}

/**
 * The request target as routing, policies, cache keys and the upstream must all see it: origin-form only; in the path,
 * escapes of unreserved characters decoded and the rest uppercased (`/%61dmin` is `/admin`), runs of `/` merged
 * (as nginx's `merge_slashes`) and `.` / `..` segments removed (RFC 3986 §5.2.4; `/x/../admin` is `/admin`). The
 * query is left byte for byte as sent (an upstream may check a signature over it). Encoded slashes and backslashes
 * (`%2F`, `%5C`) stay encoded. Returns `undefined`, for the caller to answer 400, for a target that is not
 * origin-form (absolute-form, `*`), holds a `#` (no fragment in a request target, RFC 9112 §3.2) or a raw `\` in its
 * path (upstreams that read it as `/` would route differently), or whose path has a malformed escape. A target that
 * needs no change is returned as the same string.
 *
 * @example
 * normalizeRequestTarget('//x/./%61dmin/../b%2fc?q=%7e%3d'); // '/x/b%2Fc?q=%7e%3d'
 */
export function normalizeRequestTarget(target: string): string | undefined {
  if (target.charCodeAt(0) !== 47 /* / */ || target.includes('#')) return undefined;
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  if (rawPath.includes('\\')) return undefined;
  if (!rawPath.includes('%') && !rawPath.includes('//') && !rawPath.includes('/.')) return target;
  let path = normalizeEscapes(rawPath);
  if (path === undefined) return undefined;
  if (path.includes('//')) path = path.replace(/\/{2,}/g, '/');
  if (path.includes('/.')) path = removeDotSegments(path);
  return q === -1 ? path : path + target.slice(q);
}
