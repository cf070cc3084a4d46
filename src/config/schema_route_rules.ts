// The rule blocks of a gateway route: WAF, header rules and CORS (docs/waf.md, docs/gateway.md).
import { z } from 'zod';
import { duration } from './schema_fields.js';

/** The per-route WAF rules (docs/waf.md). */
export function wafRule() {
  const count = (n: number, what: string) => z.number().int().min(1).default(n).describe(what);
  return z
    .strictObject({
      mode: z
        .enum(['block', 'log', 'off'])
        .default('block')
        .describe('block = 403 naming the rule; log = count and log only; off = no checks.'),
      methods: z
        .array(z.string().regex(/^[A-Z]+$/))
        .default(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
        .describe('Allowed request methods.'),
      contentTypes: z
        .array(z.string())
        .default(['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'])
        .describe(
          "Allowed media types of request bodies (parameters ignored; +json suffixes count as JSON, except gRPC's application/grpc+json).",
        ),
      maxBody: count(1048576, 'Largest request body, in bytes; bodies up to it are read whole and checked.'),
      inspectBody: count(
        65536,
        'Ignored (every body up to `maxBody` is read and checked); still accepted so existing files load.',
      ),
      maxHeaders: count(100, 'Most request header fields.'),
      maxHeaderBytes: count(8192, 'Longest single header field (name + value), in bytes.'),
      maxUrlLength: count(4096, 'Longest request target (path and query), in bytes.'),
      maxArgs: count(256, 'Most query and body parameters.'),
      maxArgLength: count(8192, 'Longest decoded parameter value.'),
    })
    .prefault({});
}

/**
 * A browser origin a route's CORS policy allows, written as browsers send it in `Origin` (scheme, lowercase host,
 * port only when not the scheme's default), a subdomain wildcard `https://*.example.com`, or `*`.
 */
const corsOrigin = z.string().superRefine((text, ctx) => {
  if (text === '*') return;
  if (text === 'null') {
    ctx.addIssue({
      code: 'custom',
      message:
        'the origin "null" is sent by sandboxed frames, file: pages and redirects from anywhere: allowing it allows any page',
    });
    return;
  }
  const probe = text.replace('://*.', '://wildcard.');
  const canonical = URL.canParse(probe) ? new URL(probe).origin : 'null';
  if (canonical === 'null' || canonical !== probe || !/^https?:\/\//.test(text) || probe.includes('*')) {
    const hint = canonical === 'null' ? '' : ` (here: ${canonical.replace('://wildcard.', '://*.')})`;
    ctx.addIssue({
      code: 'custom',
      message: `expected an origin as browsers send it: http(s), a lowercase host, a port only when not the default, no path or trailing slash, e.g. https://app.example.com or https://*.example.com${hint}`,
    });
  } else if (probe !== text && !new URL(probe).hostname.slice('wildcard.'.length).includes('.')) {
    ctx.addIssue({
      code: 'custom',
      message: 'a wildcard needs a domain of two labels or more below it (*.example.com)',
    });
  }
});

/** Request fields the gateway manages itself: a route's `headers.request` may not set or remove them. */
const MANAGED_REQUEST = [
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'forwarded',
  'x-request-id',
  'proxy',
  'http2-settings',
];
/** Answer fields the gateway manages itself (framing, its request id, rate limits, CORS, HSTS). */
const MANAGED_RESPONSE = [
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'trailer',
  'upgrade',
  'x-request-id',
  'ratelimit',
  'ratelimit-policy',
  'retry-after',
  'strict-transport-security',
  'te',
  'http2-settings',
];

/** Why a header rule may not touch `name` (undefined: it may). */
function managedField(name: string, side: 'request' | 'response'): string | undefined {
  // `_` read as `-`: CGI-style upstreams (WSGI, PHP, Rack) see X-Gatehouse_Sub as X-Gatehouse-Sub.
  const n = name.toLowerCase().replaceAll('_', '-');
  if (n.startsWith('proxy-')) return `${n} is meant for the next proxy only`;
  if (side === 'request') {
    if (MANAGED_REQUEST.includes(n)) return `${n} is managed by the gateway (framing, routing or the request id)`;
    if (n.startsWith('x-forwarded-')) return `${n} is set by the gateway from the connection (X-Forwarded-*)`;
    if (n.startsWith('x-gatehouse-')) return `${n} carries the verified identity; the gateway sets it`;
    return undefined;
  }
  if (MANAGED_RESPONSE.includes(n)) {
    return n === 'strict-transport-security'
      ? 'strict-transport-security is set by gateway.hsts'
      : `${n} is managed by the gateway (framing, the request id or rate limits)`;
  }
  if (n.startsWith('access-control-')) return `${n} belongs to the route's cors policy`;
  return undefined;
}

/** One side of a route's header rules. */
export function headerRuleSide(side: 'request' | 'response') {
  const name = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected a header field name');
  return z
    .strictObject({
      set: z
        .record(
          name,
          z
            .string()
            .refine(
              (v) => !/[^\t\x20-\x7e\x80-\xff]/.test(v),
              'a header value holds visible ASCII, spaces, tabs and Latin-1 only (no CR, LF, NUL or other control characters, nothing node cannot send)',
            ),
        )
        .default({})
        .describe(
          side === 'request'
            ? 'Fields set on the request sent upstream, replacing any copy the client sent.'
            : "Fields set on the upstream's answer, replacing its own.",
        ),
      remove: z
        .array(name)
        .default([])
        .describe(
          side === 'request'
            ? 'Fields removed from the request before it is sent upstream.'
            : "Fields removed from the upstream's answer (e.g. server, x-powered-by).",
        ),
    })
    .superRefine((rules, ctx) => {
      for (const n of Object.keys(rules.set)) {
        const why = managedField(n, side);
        if (why !== undefined) ctx.addIssue({ code: 'custom', message: why, path: ['set', n] });
      }
      for (const [i, n] of rules.remove.entries()) {
        const why = managedField(n, side);
        if (why !== undefined) ctx.addIssue({ code: 'custom', message: why, path: ['remove', i] });
      }
    })
    .prefault({});
}

/** A route's CORS policy (docs/gateway.md "CORS"). */
export function corsRule() {
  const headerName = z.string().regex(/^([!#$%&'*+.^_`|~0-9A-Za-z-]+)$/, 'expected a header field name');
  return z
    .strictObject({
      allowOrigins: z
        .array(corsOrigin)
        .min(1)
        .describe(
          'Origins whose pages may call the route: exact (`https://app.example.com`), a subdomain wildcard (`https://*.example.com`, not example.com itself) or `*` (any page; never with allowCredentials).',
        ),
      allowMethods: z
        .array(z.string().regex(/^[A-Z]+$/))
        .min(1)
        .default(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'])
        .describe('Methods a preflight may ask for.'),
      allowHeaders: z
        .array(headerName)
        .default([])
        .describe(
          "Request headers a preflight may ask for besides those the route itself reads (content-type, x-request-id, the route's credential header, gRPC-Web's); `*` allows any.",
        ),
      exposeHeaders: z
        .array(headerName)
        .default([])
        .describe(
          "Answer headers scripts may read besides x-request-id, retry-after, ratelimit, ratelimit-policy (and gRPC-Web's grpc-status, grpc-message, grpc-status-details-bin).",
        ),
      allowCredentials: z
        .boolean()
        .default(false)
        .describe(
          'Let pages send cookies and TLS client certificates (`credentials: include`): answers name the origin and carry Access-Control-Allow-Credentials. Not needed for Authorization or API key headers.',
        ),
      maxAge: duration('10m', 'How long a browser may reuse a preflight answer (browsers cap it: Chromium at 2 h).'),
    })
    .refine((c) => !(c.allowCredentials && c.allowOrigins.includes('*')), {
      message:
        "allowCredentials with the origin `*` would let any page act with its visitors' cookies: list the origins",
      path: ['allowCredentials'],
    })
    .optional()
    .describe(
      'Answer CORS preflights at the gateway and add the CORS fields to the route\'s answers (docs/gateway.md "CORS"); the upstream\'s own `Access-Control-*` fields are dropped. Unset: the gateway does no CORS.',
    );
}
