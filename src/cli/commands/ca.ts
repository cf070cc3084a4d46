import { Command, InvalidArgumentError } from 'commander';
import { print, table } from '../output.js';
import { runsAlone } from './standalone.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

interface CaCert {
  id?: string;
  subject: string;
  not_after: string | number;
  days_left: number;
  expiry_seconds?: number;
}

interface Status {
  root: CaCert;
  intermediate: CaCert;
  warnings: string[];
  /** An expiring intermediate whose published successor takes over in time (an admin API older than this: absent). */
  notices?: string[];
  bundle_sequence?: number;
  next?: { intermediate_id: string; activate_at: number };
  retiring?: Array<{ intermediate_id: string; retire_at: number }>;
}

const iso = (t: string | number) => (typeof t === 'number' ? new Date(t).toISOString() : t);
/** The id first: every intermediate has the same subject, and `next`/`retiring` name intermediates by id. */
const named = (c: CaCert) => (c.id === undefined ? c.subject : `${c.id}  ${c.subject}`);
const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * `gatehouse ca status|issue|join-token|revoke|rotate|bundle`: the platform certificate authority through the admin
 * API (and, for `issue`, the CA listener with a join token); `gatehouse ca --config FILE` runs the CA API alone.
 *
 * @example
 * program.addCommand(caCommand());
 */
export function caCommand(): Command {
  const ca = runsAlone(
    new Command('ca').description(
      'the platform certificate authority; with --config: run the CA API alone (docs/operations.md)',
    ),
    'ca',
  );
  adminFlags(ca.command('status').description('root and intermediate, expiry, rotation, warnings')).action(
    async (flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        const status = await client.call<Status>('GET', '/v1/ca/status');
        print(output, status, (s: Status) =>
          [
            `root          ${named(s.root)}  expires ${iso(s.root.not_after)} (${s.root.days_left} days)`,
            `intermediate  ${named(s.intermediate)}  expires ${iso(s.intermediate.not_after)} (${s.intermediate.days_left} days)`,
            ...(s.bundle_sequence === undefined ? [] : [`bundle        sequence ${s.bundle_sequence}`]),
            ...(s.next ? [`next          ${s.next.intermediate_id} activates ${iso(s.next.activate_at)}`] : []),
            ...(s.retiring ?? []).map(
              (r) => `retiring      ${r.intermediate_id} leaves the bundle ${iso(r.retire_at)}`,
            ),
            ...(s.notices ?? []).map((n) => `NOTE: ${n}`),
            ...s.warnings.map((w) => `WARNING: ${w}`),
          ].join('\n'),
        );
      }),
  );
  adminFlags(
    ca
      .command('issue')
      .description('make a key here, have the CA sign a CSR, write cert.pem, key.pem (0600) and bundle.pem')
      .requiredOption('--spiffe-id <id>', 'spiffe://<trust-domain>/ns/<namespace>/sa/<name>')
      .option('--dns <name>', 'a DNS SAN (repeatable)', collect, [] as string[])
      .option('--ttl <duration>', 'lifetime, e.g. 24h (capped by pki.maxSvidTtl)')
      .requiredOption('--out <dir>', 'directory for cert.pem, key.pem, bundle.pem')
      .option('--join-token <token>', 'a join token (default: one is made through the admin API)'),
  ).action(
    async (flags: AdminFlags & { spiffeId: string; dns: string[]; ttl?: string; out: string; joinToken?: string }) =>
      withAdmin(flags, async (client, output) => {
        // Loaded here: the CSR code brings the X.509 library, which no other command needs.
        const { issueToDirectory } = await import('./ca_issue.js');
        const result = await issueToDirectory(client, flags.dataDir, {
          spiffeId: flags.spiffeId,
          dns: flags.dns,
          out: flags.out,
          ...(flags.ttl === undefined ? {} : { ttl: flags.ttl }),
          ...(flags.joinToken === undefined ? {} : { joinToken: flags.joinToken }),
        });
        print(output, result, (r: typeof result) =>
          table([
            ['spiffe id', r.spiffe_id],
            ['serial', r.serial_number],
            ['expires', r.not_after],
            ['certificate', r.files.cert],
            ['key', r.files.key],
            ['bundle', r.files.bundle],
          ]),
        );
      }),
  );
  adminFlags(
    ca
      .command('join-token')
      .description('a one-time join token bound to one SPIFFE ID (printed once)')
      .requiredOption('--spiffe-id <id>', 'spiffe://<trust-domain>/ns/<namespace>/sa/<name>')
      .option('--ttl <duration>', 'validity, e.g. 10m (default pki.joinTokenTtl)'),
  ).action(async (flags: AdminFlags & { spiffeId: string; ttl?: string }) =>
    withAdmin(flags, async (client, output) => {
      const created = await client.call<{ token: string; spiffe_id: string; expires_at: string }>(
        'POST',
        '/v1/ca/join-tokens',
        { spiffe_id: flags.spiffeId, ...(flags.ttl === undefined ? {} : { ttl: flags.ttl }) },
      );
      // Only the token on stdout, so that `... > FILE` and `$(...)` hold exactly the token; the note goes to stderr.
      print(output, created, (c: typeof created) => c.token);
      if (!output.json) {
        process.stderr.write(
          `(single use, for ${created.spiffe_id}, expires ${created.expires_at}; it is not shown again)\n`,
        );
      }
    }),
  );
  adminFlags(
    ca
      .command('revoke')
      .description(
        'revoke an identity: it cannot renew or enroll again, sidecars refuse its current certificates, its join tokens are void',
      )
      .requiredOption('--spiffe-id <id>', 'the SPIFFE ID to revoke'),
  ).action(async (flags: AdminFlags & { spiffeId: string }) =>
    withAdmin(flags, async (client, output) => {
      const revoked = await client.call<{ spiffe_id: string; revoked_at: string; expires_at: string }>(
        'POST',
        '/v1/ca/revoke',
        { spiffe_id: flags.spiffeId },
      );
      print(
        output,
        revoked,
        (r: typeof revoked) => `revoked ${r.spiffe_id} at ${r.revoked_at} (on the deny list until ${r.expires_at})`,
      );
    }),
  );
  adminFlags(ca.command('rotate').description('prepare and publish the next intermediate now')).action(
    async (flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        const result = await client.call<{ steps: string[]; bundle_sequence: number; next: Status['next'] | null }>(
          'POST',
          '/v1/ca/rotate',
          {},
        );
        print(output, result, (r: typeof result) => {
          if (!r.next) return `rotation steps: ${r.steps.join(', ') || 'none'} (bundle sequence ${r.bundle_sequence})`;
          // A next intermediate already pending is not prepared again: say so rather than "published".
          const what = r.steps.includes('prepare') ? 'published' : 'was already published, nothing to do';
          return `next intermediate ${r.next.intermediate_id} ${what} (bundle sequence ${r.bundle_sequence}); it signs from ${iso(r.next.activate_at)}`;
        });
      }),
  );
  adminFlags(
    ca
      .command('bundle')
      .description('the trust bundle')
      .option('--format <format>', 'pem or spiffe (JWKS with x5c)', 'pem'),
  ).action(async (flags: AdminFlags & { format: string }) =>
    withAdmin(flags, async (client, output) => {
      if (flags.format !== 'pem' && flags.format !== 'spiffe') {
        throw new InvalidArgumentError('--format: expected pem or spiffe');
      }
      const bundle = await client.call<{ pem: string; spiffe: unknown }>('GET', '/v1/ca/bundle');
      if (output.json || flags.format === 'spiffe')
        process.stdout.write(JSON.stringify(flags.format === 'spiffe' ? bundle.spiffe : bundle) + '\n');
      else process.stdout.write(bundle.pem);
    }),
  );
  return ca;
}
