import type { FastifyInstance } from 'fastify';
import { GatehouseError } from '../core/index.js';
import type { GatewayMetrics } from '../gateway/index.js';
import { EXPOSITION_CONTENT_TYPE } from './metrics_listener.js';

/**
 * `GET /metrics` on the admin listener of `gatehouse up` (127.0.0.1 only), behind the admin token
 * (`Authorization: Bearer <DIR/admin.token>`, Prometheus `authorization.credentials_file`): the platform's series
 * (the CA's, app/ca_metrics.ts, and the listeners' HTTP requests), then the gateway's once it has started.
 *
 * @example
 * registerMetricsRoute(admin.app, { platform: () => caMetricsText(authority.status()), gateway: () => started.gateway?.metrics },
 *   (token) => adminToken.check(token));
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  sources: { platform: () => string; gateway: () => GatewayMetrics | undefined },
  checkToken: (token: string) => boolean,
): void {
  app.get('/metrics', async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer (\S+)$/i.exec(header)?.[1];
    if (token === undefined || !checkToken(token)) throw new GatehouseError('ERR_ADMIN_UNAUTHORIZED');
    const gateway = sources.gateway();
    reply.header('content-type', gateway?.contentType ?? EXPOSITION_CONTENT_TYPE);
    return sources.platform() + (gateway ? await gateway.text() : '');
  });
}
