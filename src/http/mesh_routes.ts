import type { FastifyInstance } from 'fastify';
import { requireAdminToken, type AdminTokenCheck } from './admin_auth.js';

/** What the mesh admin routes need; app/mesh_demo.ts implements it. Results are JSON-ready (snake_case). */
export interface MeshAdminOperations {
  /** Renews every sidecar's SVID now (the forced-renew hook). */
  renew(): Promise<unknown>;
  status(): unknown;
}

/**
 * Admin routes of the mesh: `GET /v1/mesh` (sidecars, SVIDs, connection counters) and `POST /v1/mesh/renew` (forced
 * renewal, so tests and drills can rotate every second with normal certificate lifetimes).
 *
 * @example
 * registerMeshAdminRoutes(admin.app, (token) => adminToken.check(token), demoMesh);
 */
export function registerMeshAdminRoutes(app: FastifyInstance, check: AdminTokenCheck, ops: MeshAdminOperations): void {
  const preHandler = requireAdminToken(check);
  app.get('/v1/mesh', { preHandler }, async () => ({ sidecars: ops.status() }));
  app.post('/v1/mesh/renew', { preHandler }, async () => ({ sidecars: await ops.renew() }));
}
