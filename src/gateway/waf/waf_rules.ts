import type { RouteConfig } from '../gateway_config.js';
import { fullyDecode } from './decode.js';
import { bodyParams, queryParams, type RequestParam } from './request_params.js';
import {
  isScannerAgent,
  looksLikeSqlInjection,
  looksLikeTraversal,
  looksLikeXss,
  pathTraverses,
} from './signatures.js';

/** The `waf` block of a route. */
export type WafConfig = RouteConfig['waf'];

/** The rules a verdict names (docs/waf.md). */
export type WafRule =
  | 'method_not_allowed'
  | 'content_type_not_allowed'
  | 'body_too_large'
  | 'too_many_headers'
  | 'header_too_large'
  | 'url_too_long'
  | 'too_many_args'
  | 'arg_too_long'
  | 'path_traversal'
  | 'nul_byte'
  | 'smuggling_cl_te'
  | 'smuggling_duplicate_cl'
  | 'sqli'
  | 'xss'
  | 'scanner';

/** A rule that matched, and where. */
export interface WafVerdict {
  rule: WafRule;
  /** Which part matched (a parameter name, `path`, a header name); never the matched value. */
  where: string;
}

/** The request line and headers as the WAF sees them. */
export interface WafHead {
  method: string;
  /** The request target as sent: path and optional `?query`. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** Alternating names and values as received (duplicates visible); derived from `headers` when absent. */
  rawHeaders?: string[];
}

/** A whole request, as stored in the corpus (test/gateway/corpus). */
export interface WafInput {
  method: string;
  path: string;
  query?: string;
  headers?: Record<string, string>;
  body?: string;
  contentType?: string;
}

const HAS_BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

function mediaType(contentType: string): string {
  return contentType.split(';', 1)[0]!.trim().toLowerCase();
}

/**
 * Whether a media type is allowed: exact match, or a `+json` suffix when application/json is allowed.
 *
 * @example
 * contentTypeAllowed(config, 'application/merge-patch+json; charset=utf-8');
 */
export function contentTypeAllowed(config: WafConfig, contentType: string): boolean {
  const type = mediaType(contentType);
  if (config.contentTypes.includes(type)) return true;
  // `+json` counts as JSON, but not gRPC's `application/grpc+json` (framed binary messages, listed by name or not at all).
  return (
    type.endsWith('+json') && !type.startsWith('application/grpc') && config.contentTypes.includes('application/json')
  );
}

function checkParams(config: WafConfig, params: RequestParam[], where: string): WafVerdict | undefined {
  for (const p of params) {
    const name = `${where}:${p.name.slice(0, 64)}`;
    if (p.value.length > config.maxArgLength) return { rule: 'arg_too_long', where: name };
    for (const text of [p.name, p.value]) {
      if (text.includes('\u0000')) return { rule: 'nul_byte', where: name };
      if (looksLikeSqlInjection(text)) return { rule: 'sqli', where: name };
      if (looksLikeXss(text)) return { rule: 'xss', where: name };
      if (looksLikeTraversal(text)) return { rule: 'path_traversal', where: name };
    }
  }
  return undefined;
}

/**
 * The checks that need only the request line and headers: method, header count and size, URL length, smuggling
 * forms, declared body size and type, scanner agents, path traversal and NUL bytes, and the query parameters.
 *
 * @example
 * const verdict = inspectHead(route.waf, { method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders });
 */
export function inspectHead(config: WafConfig, head: WafHead): WafVerdict | undefined {
  if (!config.methods.includes(head.method)) return { rule: 'method_not_allowed', where: 'method' };
  const raw = head.rawHeaders ?? Object.entries(head.headers).flatMap(([k, v]) => [k, String(v)]);
  if (raw.length / 2 > config.maxHeaders) return { rule: 'too_many_headers', where: 'headers' };
  let lengths = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string; // as sent: lower-cased only where it is named (no string per field and request)
    if (name.length + (raw[i + 1] as string).length > config.maxHeaderBytes) {
      return { rule: 'header_too_large', where: name.toLowerCase() };
    }
    if (name.length === 14 && name.toLowerCase() === 'content-length') lengths += 1;
  }
  if (lengths > 1) return { rule: 'smuggling_duplicate_cl', where: 'content-length' };
  const h = head.headers;
  if (h['content-length'] !== undefined && h['transfer-encoding'] !== undefined) {
    return { rule: 'smuggling_cl_te', where: 'transfer-encoding' };
  }
  if (head.url.length > config.maxUrlLength) return { rule: 'url_too_long', where: 'url' };
  const length = Number(h['content-length'] ?? 0);
  if (length > config.maxBody) return { rule: 'body_too_large', where: 'content-length' };
  const contentType = h['content-type'];
  const hasBody = length > 0 || h['transfer-encoding'] !== undefined;
  if (hasBody && contentType !== undefined && !contentTypeAllowed(config, String(contentType))) {
    return { rule: 'content_type_not_allowed', where: 'content-type' };
  }
  const agent = h['user-agent'];
  if (typeof agent === 'string' && isScannerAgent(agent)) return { rule: 'scanner', where: 'user-agent' };
  const q = head.url.indexOf('?');
  const rawPath = q === -1 ? head.url : head.url.slice(0, q);
  const path = fullyDecode(rawPath);
  if (path.includes('\u0000')) return { rule: 'nul_byte', where: 'path' };
  if (pathTraverses(path)) return { rule: 'path_traversal', where: 'path' };
  if (looksLikeXss(path)) return { rule: 'xss', where: 'path' };
  const params = q === -1 ? [] : queryParams(head.url.slice(q + 1));
  if (params.length > config.maxArgs) return { rule: 'too_many_args', where: 'query' };
  return checkParams(config, params, 'query');
}

/**
 * The checks on a read body: its size, then its parameters (form fields, JSON values and keys, multipart fields).
 *
 * @example
 * const verdict = inspectBody(route.waf, 'application/json', bodyBuffer, 0);
 */
export function inspectBody(
  config: WafConfig,
  contentType: string,
  body: Buffer,
  queryArgs: number,
): WafVerdict | undefined {
  if (body.length > config.maxBody) return { rule: 'body_too_large', where: 'body' };
  if (body.length === 0) return undefined;
  const params = bodyParams(body.toString('utf8'), contentType);
  if (params.length + queryArgs > config.maxArgs) return { rule: 'too_many_args', where: 'body' };
  return checkParams(config, params, 'body');
}

/**
 * A whole request through every rule (the corpus test and `gatehouse`'s own checks use it).
 *
 * @example
 * inspectRequest(config, { method: 'GET', path: '/search', query: "q=' OR 1=1--" }); // { rule: 'sqli', ... }
 */
export function inspectRequest(config: WafConfig, input: WafInput): WafVerdict | undefined {
  const headers: Record<string, string> = { ...input.headers };
  const body = input.body === undefined ? undefined : Buffer.from(input.body, 'utf8');
  if (body !== undefined && body.length > 0 && headers['content-length'] === undefined) {
    headers['content-length'] = String(body.length);
  }
  if (input.contentType !== undefined) headers['content-type'] = input.contentType;
  const url = input.query ? `${input.path}?${input.query}` : input.path;
  const head = inspectHead(config, { method: input.method, url, headers });
  if (head || body === undefined || !HAS_BODY_METHODS.has(input.method)) return head;
  return inspectBody(config, headers['content-type'] ?? '', body, input.query ? queryParams(input.query).length : 0);
}
