/**
 * Lenient decoding of request parameters for signature checks: what an attacker hides behind URL encoding (once or
 * several times), `%uXXXX` and `\uXXXX` escapes, overlong UTF-8 dots and slashes, HTML character references and
 * Unicode compatibility forms (fullwidth `＜`, `＇`, `．`) is turned back into the text the application will eventually see.
 */

const OVERLONG: Record<string, string> = {
  '%c0%ae': '.',
  '%e0%80%ae': '.',
  '%c0%af': '/',
  '%e0%80%af': '/',
  '%c1%9c': '\\',
  '%c1%1c': '\\',
};
const OVERLONG_RE = /%c0%ae|%e0%80%ae|%c0%af|%e0%80%af|%c1%9c|%c1%1c/gi;
const PERCENT_RUN = /(?:%[0-9a-f]{2})+/gi;
const NAMED_ENTITIES: Record<string, string> = {
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  amp: '&',
  colon: ':',
  sol: '/',
  lpar: '(',
  rpar: ')',
  tab: '\t',
  newline: '\n',
};

function percentOnce(text: string): string {
  return text
    .replace(OVERLONG_RE, (m) => OVERLONG[m.toLowerCase()] ?? m)
    .replace(/%u([0-9a-f]{4})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(PERCENT_RUN, (run) => {
      const bytes = Buffer.from(run.replace(/%/g, ''), 'hex');
      const utf8 = bytes.toString('utf8');
      return utf8.includes('\uFFFD') ? bytes.toString('latin1') : utf8;
    });
}

/**
 * Percent-decodes up to `rounds` times (double and triple encoding), never throwing on malformed input.
 *
 * @example
 * percentDecode('%252e%252e%252f'); // '../'
 */
export function percentDecode(text: string, rounds = 3): string {
  let out = text;
  for (let i = 0; i < rounds && out.includes('%'); i += 1) {
    const next = percentOnce(out);
    if (next === out) break;
    out = next;
  }
  return out;
}

/**
 * Decodes JavaScript/JSON-style escapes (`\u003c`, `\x3c`) and HTML character references (`&#60;`, `&#x3c;`, `&lt;`).
 *
 * @example
 * unescapeText('\\u003cscript&#62;'); // '<script>'
 */
export function unescapeText(text: string): string {
  if (!text.includes('\\') && !text.includes('&')) return text;
  return text
    .replace(/\\u\{?([0-9a-f]{2,6})\}?|\\x([0-9a-f]{2})/gi, (_m, u: string | undefined, x: string | undefined) =>
      String.fromCodePoint(Math.min(parseInt(u ?? x ?? '0', 16), 0x10ffff)),
    )
    .replace(/&#x([0-9a-f]{1,6});?|&#(\d{1,7});?|&([a-z]{2,8});/gi, (m, hex?: string, dec?: string, name?: string) => {
      if (hex !== undefined) return String.fromCodePoint(Math.min(parseInt(hex, 16), 0x10ffff));
      if (dec !== undefined) return String.fromCodePoint(Math.min(parseInt(dec, 10), 0x10ffff));
      return NAMED_ENTITIES[(name ?? '').toLowerCase()] ?? m;
    });
}

const NON_ASCII = /[^\p{ASCII}]/u;

/**
 * Folds Unicode compatibility forms to their plain characters (NFKC): fullwidth `＜script＞` and `＇ OR ＇1＇＝＇1`
 * become ASCII, as they do in applications and databases that normalize text (NFKC in the application, best-fit
 * mappings into a legacy code page). ASCII-only text is returned as it is, without the cost of normalizing.
 *
 * @example
 * foldCompatibility('＜script＞'); // '<script>'
 */
export function foldCompatibility(text: string): string {
  return NON_ASCII.test(text) ? text.normalize('NFKC') : text;
}

/**
 * Everything a value may decode to: percent-decoding, then escapes, then percent-decoding again (escapes inside
 * encodings and the reverse), then compatibility forms folded.
 *
 * @example
 * fullyDecode('%26lt%3Bscript%26gt%3B'); // '<script>'
 * fullyDecode('%EF%BC%9Cscript%EF%BC%9E'); // '<script>'
 */
export function fullyDecode(text: string): string {
  return foldCompatibility(percentDecode(unescapeText(percentDecode(text))));
}
