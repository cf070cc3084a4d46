import { Command } from 'commander';
import { print } from '../output.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

interface Authority {
  subject: string;
  not_after: string;
  days_left: number;
}

/** `gatehouse ca status`: the CA certificates, their expiry and any warning. */
export function caCommand(): Command {
  const ca = new Command('ca').description('the platform certificate authority');
  adminFlags(ca.command('status').description('root and intermediate, expiry, warnings')).action(
    async (flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        const status = await client.call<{ root: Authority; intermediate: Authority; warnings: string[] }>(
          'GET',
          '/v1/ca/status',
        );
        print(output, status, (s: { root: Authority; intermediate: Authority; warnings: string[] }) =>
          [
            `root          ${s.root.subject}  expires ${s.root.not_after} (${s.root.days_left} days)`,
            `intermediate  ${s.intermediate.subject}  expires ${s.intermediate.not_after} (${s.intermediate.days_left} days)`,
            ...s.warnings.map((w) => `WARNING: ${w}`),
          ].join('\n'),
        );
      }),
  );
  return ca;
}
