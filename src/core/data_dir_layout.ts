import { join, resolve } from 'node:path';

/** The files of a data directory, as absolute paths. */
export interface DataDirPaths {
  dir: string;
  lock: string;
  manifest: string;
  rootKey: string;
  adminToken: string;
  trustBundle: string;
  endpoints: string;
  leases: string;
}

/**
 * The file layout of a data directory, shared by the server (app) and the CLI, which finds the running server's
 * admin address and token there. A pure function of the path: light enough for every CLI command to load.
 *
 * @example
 * const { adminToken, endpoints } = dataDirPaths('./gatehouse-data');
 */
export function dataDirPaths(dir: string): DataDirPaths {
  const abs = resolve(dir);
  return {
    dir: abs,
    lock: join(abs, 'lock'),
    manifest: join(abs, 'gatehouse.json'),
    rootKey: join(abs, 'root.key'),
    adminToken: join(abs, 'admin.token'),
    trustBundle: join(abs, 'trust-bundle.pem'),
    endpoints: join(abs, 'endpoints.json'),
    leases: join(abs, 'leases'),
  };
}
