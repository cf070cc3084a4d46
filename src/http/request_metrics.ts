import type { FastifyInstance } from 'fastify';
import { labelValue, RequestStats } from '../core/index.js';

/** Seconds: the request duration histogram's bounds (an OAuth token call is ~1-10 ms, a password sign-in ~100 ms). */
const BOUNDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const SEP = '\u0000';

/**
 * The HTTP request metrics of the platform listeners (identity, its mTLS listener, KMS, CA, admin), one set per
 * process: `gatehouse_http_requests_total{listener,method,route,status}` and
 * `gatehouse_http_request_duration_seconds{listener,method,route}`. `route` is the route's pattern
 * (`/v1/kms/keys/:name`), never the raw path, so the label set stays bounded; requests no route matched count as
 * `(unmatched)`.
 *
 * @example
 * const stats = platformRequestStats();
 * createHttpsServer({ name: 'kms', ..., requestStats: stats });
 * const text = stats.text();
 */
export function platformRequestStats(): RequestStats {
  return new RequestStats(
    { name: 'gatehouse_http_requests_total', help: 'Requests answered by the platform listeners.' },
    { name: 'gatehouse_http_request_duration_seconds', help: 'Time to answer, by listener and route.' },
    BOUNDS,
    (key) => {
      const [listener = '', method = '', route = ''] = key.split(SEP);
      return `listener="${labelValue(listener)}",method="${labelValue(method)}",route="${labelValue(route)}"`;
    },
  );
}

/** Counts every answered request of `app` (listener `listener`) in `stats`. */
export function countRequests(app: FastifyInstance, listener: string, stats: RequestStats): void {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? '(unmatched)';
    stats.record(`${listener}${SEP}${request.method}${SEP}${route}`, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}
