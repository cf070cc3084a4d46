import { Command } from 'commander';
import type { Endpoints } from '../../app/index.js';
import { columns, print } from '../output.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

interface CaCert {
  id?: string;
  not_after: string | number;
  days_left: number;
}

/** The answer of `GET /v1/status` (docs/operations.md "Admin API"). */
export interface PlatformStatus {
  data_dir: string;
  trust_domain: string;
  storage: string;
  root_key_source?: string;
  root_key_fingerprint: string;
  ca: { root: CaCert; intermediate: CaCert; warnings: string[] };
}

const iso = (t: string | number) => (typeof t === 'number' ? new Date(t).toISOString() : t);
const expiry = (c: CaCert) =>
  `${c.id === undefined ? '' : `${c.id}  `}${c.days_left} days left (expires ${iso(c.not_after)})`;

/**
 * The human form of a status: where the platform listens (from DIR/endpoints.json, which the answer does not carry),
 * its trust domain, storage, root key and CA, one aligned line each, then the CA's expiry warnings.
 */
export function formatStatus(status: PlatformStatus, endpoints: Partial<Endpoints>): string {
  const listeners: Array<[string, string | undefined]> = [
    ['admin', endpoints.admin],
    ['identity', endpoints.identity],
    ['issuer', endpoints.issuer === endpoints.identity ? undefined : endpoints.issuer],
    ['identity mTLS', endpoints.identityMtls],
    ['KMS', endpoints.kms],
    ['CA', endpoints.ca],
    ['gateway', endpoints.gateway],
    ['mesh demo', endpoints.mesh && `frontend ${endpoints.mesh.frontend}, backend ${endpoints.mesh.backend}`],
  ];
  const rows: string[][] = [
    ...listeners.filter((row): row is [string, string] => row[1] !== undefined),
    ['trust domain', status.trust_domain],
    ['storage', status.storage],
    [
      'root key',
      `${status.root_key_fingerprint}${status.root_key_source === undefined ? '' : `  (${status.root_key_source})`}`,
    ],
    ['CA intermediate', expiry(status.ca.intermediate)],
    ['CA root', expiry(status.ca.root)],
  ];
  const pid = endpoints.pid === undefined ? '' : ` (pid ${endpoints.pid})`;
  return [
    `gatehouse is running on ${status.data_dir}${pid}`,
    columns(rows),
    ...status.ca.warnings.map((w) => `WARNING: ${w}`),
  ].join('\n');
}

/**
 * `gatehouse status`: is the gatehouse running on DIR up, and how is it (as `vault status`). Asks `GET /v1/status`;
 * exits 0 even with a CA expiry warning, which it prints (`gatehouse doctor` is the command that gates on it).
 */
export function statusCommand(): Command {
  return adminFlags(
    new Command('status').description(
      'whether gatehouse runs on DIR: its endpoints, trust domain, storage, root key fingerprint, CA expiry (exit 3 when not running)',
    ),
  ).action(async (flags: AdminFlags) =>
    withAdmin(flags, async (client, output) => {
      const status = await client.call<PlatformStatus>('GET', '/v1/status');
      print(output, status, (s: PlatformStatus) => formatStatus(s, client.endpoints));
    }),
  );
}
