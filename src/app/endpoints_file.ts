import { rmSync } from 'node:fs';
import { writeFileAtomic } from '../core/index.js';
import type { DataDirPaths } from './data_dir.js';

/** endpoints.json: where each running capability listens. Keys appear as their capability lands. */
export interface Endpoints {
  pid: number;
  admin: string;
  /** The KMS transit API. */
  kms: string;
  /** The identity issuer's listener (OAuth2 authorization server), where this process bound it. */
  identity: string;
  /** The issuer URL tokens name (`identity.issuer`, e.g. a load balancer; else the same as `identity`). */
  issuer: string;
  /** The identity issuer's mTLS listener (RFC 8705 `mtls_endpoint_aliases`: tls_client_auth, bound tokens). */
  identityMtls: string;
  /** The CA API (SVID signing, renewal over mTLS, bundles). */
  ca: string;
  /** The API gateway (data plane); `/demo/` reaches the demo backend. */
  gateway: string;
  trustBundle: string;
  trustDomain: string;
  /** Inbound address of each demo mesh sidecar (`mesh.demo`). */
  mesh?: { frontend: string; backend: string };
}

/**
 * Writes endpoints.json atomically (mode 0644), once every listener is ready: the CLI reads it to find the process.
 *
 * @example
 * writeEndpointsFile(paths, endpoints);
 */
export function writeEndpointsFile(paths: DataDirPaths, endpoints: Endpoints): void {
  writeFileAtomic(paths.endpoints, JSON.stringify(endpoints, null, 2) + '\n', 0o644);
}

/**
 * Removes endpoints.json (none is fine): one left by an earlier run before a start, and this process's at stop.
 *
 * @example
 * cleanups.push(() => removeEndpointsFile(paths));
 */
export function removeEndpointsFile(paths: DataDirPaths): void {
  rmSync(paths.endpoints, { force: true });
}
