import { fullyDecode } from './decode.js';

/** One request parameter, decoded (names too: attacks hide in keys). */
export interface RequestParam {
  name: string;
  value: string;
}

/**
 * The parameters of a query string (`a=1&b=2`), `+` as space, each name and value fully decoded.
 *
 * @example
 * queryParams('q=O%27Brien&page=2'); // [{ name: 'q', value: "O'Brien" }, { name: 'page', value: '2' }]
 */
export function queryParams(query: string): RequestParam[] {
  if (query === '') return [];
  const out: RequestParam[] = [];
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    const value = eq === -1 ? '' : pair.slice(eq + 1);
    out.push({ name: fullyDecode(name.replace(/\+/g, ' ')), value: fullyDecode(value.replace(/\+/g, ' ')) });
  }
  return out;
}

function jsonParams(value: unknown, path: string, out: RequestParam[], depth: number): void {
  if (depth > 32) return;
  if (typeof value === 'string') out.push({ name: path, value: fullyDecode(value) });
  else if (typeof value === 'number' || typeof value === 'boolean') out.push({ name: path, value: String(value) });
  else if (Array.isArray(value)) value.forEach((v, i) => jsonParams(v, `${path}[${i}]`, out, depth + 1));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push({ name: `${path}.key`, value: fullyDecode(k) });
      jsonParams(v, path === '' ? k : `${path}.${k}`, out, depth + 1);
    }
  }
}

function multipartParams(body: string, contentType: string, out: RequestParam[]): boolean {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) return false;
  for (const part of body.split(`--${boundary}`)) {
    const split = part.indexOf('\r\n\r\n');
    if (split === -1) continue;
    const head = part.slice(0, split);
    const content = part.slice(split + 4).replace(/\r\n$/, '');
    const name = /name="([^"]*)"/i.exec(head)?.[1] ?? '';
    const filename = /filename="([^"]*)"/i.exec(head)?.[1];
    if (filename !== undefined) {
      out.push({ name: `${name}.filename`, value: fullyDecode(filename) });
      continue; // file contents are data, not parameters
    }
    out.push({ name: fullyDecode(name), value: fullyDecode(content) });
  }
  return true;
}

/**
 * The parameters of a request body by media type: form fields, JSON strings/numbers (and object keys) at any depth,
 * multipart fields (file names but not file contents), else the whole text as one parameter.
 *
 * @example
 * bodyParams('{"name":"O\'Brien"}', 'application/json'); // [{ name: '.key', ... }, { name: 'name', value: "O'Brien" }]
 */
export function bodyParams(body: string, contentType: string): RequestParam[] {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  const out: RequestParam[] = [];
  if (type === 'application/x-www-form-urlencoded') return queryParams(body);
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      jsonParams(JSON.parse(body), '', out, 0);
      return out;
    } catch {
      // not JSON after all: inspect it as text
    }
  }
  if (type === 'multipart/form-data' && multipartParams(body, contentType, out)) return out;
  if (body !== '') out.push({ name: '(body)', value: fullyDecode(body) });
  return out;
}
