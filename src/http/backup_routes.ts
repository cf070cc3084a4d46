import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { adminCall, requireAdminToken, type AdminCall, type AdminTokenCheck } from './admin_auth.js';

/** What the backup route needs (implemented in app/backup.ts). */
export interface BackupOperations {
  /** A consistent snapshot as a tar stream, and the manifest's counts for the response headers; `call`: who asked. */
  backup(call: AdminCall): Promise<{ archive: Readable; counts: { records: number; objects: number } }>;
}

/**
 * `POST /v1/backup` on the admin listener (admin token): streams a tar archive of a consistent snapshot (see
 * docs/objects-and-backup.md). A failure after the headers aborts the connection, so a truncated archive is never
 * mistaken for a complete one (and restore verifies every entry's SHA-256 anyway).
 *
 * @example
 * registerBackupRoutes(admin.app, { ops: { backup: () => createBackup(...) }, checkToken });
 */
export function registerBackupRoutes(
  app: FastifyInstance,
  options: { ops: BackupOperations; checkToken: AdminTokenCheck },
): void {
  void app.register(async (scope) => {
    scope.addHook('onRequest', requireAdminToken(options.checkToken));
    scope.post('/v1/backup', async (request, reply) => {
      const { archive, counts } = await options.ops.backup(adminCall(request));
      return reply
        .type('application/x-tar')
        .header('cache-control', 'no-store')
        .header('gatehouse-backup-records', String(counts.records))
        .header('gatehouse-backup-objects', String(counts.objects))
        .send(archive);
    });
  });
}
