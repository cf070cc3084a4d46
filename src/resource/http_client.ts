import { Agent, request, type Dispatcher } from 'undici';
import { GatehouseError } from '../core/index.js';
import { clientTlsOptions } from '../crypto/index.js';

/** Where the verifier reaches the issuer: an https URL, trusting `ca` (PEM) or the given undici dispatcher. */
export interface IssuerEndpoint {
  url: string;
  /** PEM bundle to trust instead of the system roots. */
  ca?: string | Buffer;
  /** A ready undici dispatcher (then `ca` is ignored). */
  dispatcher?: Dispatcher;
}

/** A bounded JSON answer from the issuer. */
export interface JsonResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: unknown;
}

/** Options of one {@link fetchJson} call. */
export interface FetchOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxBytes: number;
}

/**
 * Checks that `url` is https (plain http only to a loopback address, for tests and sidecars) and returns it parsed.
 *
 * @example
 * assertIssuerUrl('https://id.example.com/.well-known/jwks.json', 'jwks.url');
 */
export function assertIssuerUrl(url: string, what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GatehouseError('ERR_CONFIG_INVALID', { message: `${what}: not a URL` });
  }
  const loopback = parsed.hostname === '127.0.0.1' || parsed.hostname === '[::1]' || parsed.hostname === 'localhost';
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { message: `${what}: must be an https URL` });
  }
  return parsed;
}

/**
 * The undici dispatcher for an endpoint: the one given, or an Agent speaking TLS 1.3 only and trusting `ca`.
 *
 * @example
 * const dispatcher = dispatcherFor({ url, ca: bundlePem });
 */
export function dispatcherFor(endpoint: Omit<IssuerEndpoint, 'url'>): Dispatcher {
  if (endpoint.dispatcher !== undefined) return endpoint.dispatcher;
  const tls = endpoint.ca === undefined ? undefined : clientTlsOptions({ ca: endpoint.ca.toString() });
  return new Agent({
    connect: tls ?? { minVersion: 'TLSv1.3' },
    keepAliveTimeout: 10_000,
  });
}

/**
 * One request that answers JSON, with a whole-request timeout and a body size bound. Network failures, timeouts,
 * oversized or non-JSON bodies throw ERR_VERIFIER_UNAVAILABLE (the verifier fails closed).
 *
 * @example
 * const { status, json } = await fetchJson(dispatcher, jwksUrl, { timeoutMs: 5000, maxBytes: 262144 });
 */
export async function fetchJson(dispatcher: Dispatcher, url: string, options: FetchOptions): Promise<JsonResponse> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  try {
    const res = await request(url, {
      dispatcher,
      method: options.method ?? 'GET',
      headers: { accept: 'application/json', ...options.headers },
      ...(options.body === undefined ? {} : { body: options.body }),
      signal,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > options.maxBytes) {
        res.body.destroy();
        throw new GatehouseError('ERR_VERIFIER_UNAVAILABLE', { detail: `${new URL(url).pathname}: body too large` });
      }
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      throw new GatehouseError('ERR_VERIFIER_UNAVAILABLE', { detail: `${new URL(url).pathname}: not JSON` });
    }
    return { status: res.statusCode, headers: res.headers, json };
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    throw new GatehouseError('ERR_VERIFIER_UNAVAILABLE', {
      detail: `${new URL(url).pathname}: ${(err as Error).name}: ${(err as Error).message}`,
    });
  }
}
