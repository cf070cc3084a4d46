// The field builders shared by the sections of the configuration schema (schema.ts).
import { z } from 'zod';
import { parseDuration } from '../core/index.js';

/** A duration written as `15m`, `24h`, `30d`, ... and held as milliseconds. */
export function duration(defaultText: string, description: string) {
  return z
    .union([z.string(), z.number()])
    .default(defaultText)
    .describe(description)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 500ms, 30s, 15m, 24h or 30d` });
        return z.NEVER;
      }
      return ms;
    });
}

/**
 * A duration above zero (a zero period or timeout would divide by zero or turn the bound off).
 *
 * @example
 * timeout: positive(duration('30s', 'Time the upstream has for response headers, and between body chunks.')),
 */
export function positive<T extends z.ZodType<number>>(field: T) {
  return field.refine((ms) => ms > 0, 'expected a duration above zero');
}

/** An entry of `pki.allowedDnsNames`: a lowercase DNS name, or `*.` and a suffix (any name below it). */
export const DNS_NAME_PATTERN = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A TCP port (0 = any free port). */
export function port(defaultPort: number, description: string) {
  return z.number().int().min(0).max(65535).default(defaultPort).describe(description);
}

/** A lowercase name of a policy, route, limit or upstream. */
export const policyName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected a lowercase name (letters, digits, _ and -)');

/**
 * A rate budget `{ rate, period, burst }` (GCRA: `rate` per `period`, plus `burst` at once) with its defaults.
 *
 * @example
 * failedLoginPerAccount: rateBudget(5, '1m', 5, 'Failed sign-ins tolerated per username.'),
 */
export function rateBudget(rate: number, period: string, burst: number, description: string) {
  return z
    .strictObject({
      rate: z.number().int().min(1).default(rate).describe('Requests admitted per period.'),
      period: duration(period, 'The period of `rate`.'),
      burst: z.number().int().min(0).default(burst).describe('Extra requests admitted at once.'),
    })
    .prefault({})
    .describe(description);
}

/** Where a workload (the sidecar, a standalone gateway) gets and renews its SVID: the CA API and its trust bundle. */
export function caConnection(who: string) {
  return z
    .strictObject({
      url: z.string().url().describe('The CA API, e.g. https://127.0.0.1:8445 (endpoints.json `ca`).'),
      bundleFile: z.string().describe('Trust bundle PEM that authenticates the CA listener (DIR/trust-bundle.pem).'),
    })
    .describe(`Where the ${who} gets and renews its SVID.`);
}

/**
 * The URL of a server gatehouse connects to (PostgreSQL, Redis): a URL whose scheme is one of `schemes`, or a Unix
 * socket path (starting with `/`). Anything else is refused at load: `cache.internal:6379` without a scheme is read
 * by the drivers as a host, while the TLS decision (`connectionTls`) would see no host and take it for loopback,
 * connecting in clear without the insecure warning.
 *
 * @example
 * url: connectionUrl(['redis:', 'rediss:'], 'redis://cache.internal:6379').optional(),
 */
export function connectionUrl(schemes: readonly string[], example: string) {
  const names = schemes.map((s) => `${s}//`).join(' or ');
  return z.string().refine((value) => {
    if (value.startsWith('/')) return true;
    try {
      return schemes.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `expected a ${names} URL (e.g. ${example}) or a Unix socket path`);
}

/**
 * The WebSocket tunnel settings of the gateway's upstreams and of the sidecar: a cap (1024) and an idle timeout (60 s,
 * nginx's proxy_read_timeout), described for where they apply.
 *
 * @example
 * tunnels: tunnelSettings({ max: 'Tunnels open at once ...', idleTimeoutNote: '', section: 'WebSocket tunnels.' })
 */
export function tunnelSettings(docs: { max: string; idleTimeoutNote: string; section: string }) {
  return z
    .strictObject({
      max: z.number().int().min(1).default(1024).describe(docs.max),
      idleTimeout: positive(
        duration(
          '60s',
          `A tunnel with no byte in either direction for this long is closed (nginx's proxy_read_timeout)${docs.idleTimeoutNote}.`,
        ),
      ),
    })
    .prefault({})
    .describe(docs.section);
}

/**
 * Retries of failed attempts (the gateway's `upstreams[].retries`, the sidecar's `outbound.upstreams[].retries`):
 * `attempts` further attempts by default `defaultAttempts`, on `defaultOn` (`connect-failure`, `refused-stream` and
 * `reset` unless given), within a budget of 20 % of the requests in flight.
 *
 * @example
 * retries: retrySettings(1, 'Retries of failed attempts on the next host (docs/gateway.md "Retries").'),
 */
export function retrySettings(
  defaultAttempts: number,
  description: string,
  defaultOn: Array<'connect-failure' | 'refused-stream' | 'reset' | number> = [
    'connect-failure',
    'refused-stream',
    'reset',
  ],
) {
  return z
    .strictObject({
      attempts: z
        .number()
        .int()
        .min(0)
        .max(5)
        .default(defaultAttempts)
        .describe(
          'Further attempts after a failed one (0 = never retry). A request with a body goes again only with the copy kept while it streamed (up to 64 KiB).',
        ),
      on: z
        .array(z.union([z.enum(['connect-failure', 'refused-stream', 'reset']), z.number().int().min(500).max(599)]))
        .default(defaultOn)
        .describe(
          '`connect-failure` (no connection: any method), `refused-stream` (an HTTP/2 upstream refused the stream, so it did not process it: any method), `reset` (the connection broke before the answer: idempotent methods), and 5xx statuses to retry (idempotent methods; the answer is dropped).',
        ),
      budget: z
        .number()
        .min(0)
        .max(1)
        .default(0.2)
        .describe(
          "Retries in flight at most this fraction of the upstream's requests in flight (always at least 3): a failing upstream gets no retry storm.",
        ),
    })
    .prefault({})
    .describe(description);
}
