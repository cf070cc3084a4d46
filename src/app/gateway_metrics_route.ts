import type { FastifyInstance } from 'fastify';
import { GatehouseError } from '../core/index.js';
import type { GatewayMetrics } from '../gateway/index.js';

/**
 * `GET /metrics` on the admin listener of `gatehouse up` (127.0.0.1 only): the gateway's Prometheus exposition,
 * behind the admin token (`Authorization: Bearer <DIR/admin.token>`, Prometheus `authorization.credentials_file`).
 * 503 until the gateway has started.
 *
 * @example
 * registerGatewayMetricsRoute(admin.app, () => started.gateway?.metrics, (token) => adminToken.check(token));
 */
export function registerGatewayMetricsRoute(
  app: FastifyInstance,
  metrics: () => GatewayMetrics | undefined,
  checkToken: (token: string) => boolean,
): void {
  app.get('/metrics', async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer (\S+)$/i.exec(header)?.[1];
    if (token === undefined || !checkToken(token)) throw new GatehouseError('ERR_ADMIN_UNAUTHORIZED');
    const m = metrics();
    if (m === undefined) throw new GatehouseError('ERR_NOT_RUNNING', { message: 'the gateway has not started yet' });
    reply.header('content-type', m.contentType);
    return m.text();
  });
}
