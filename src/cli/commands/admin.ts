import { Command } from 'commander';
import { print } from '../output.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

/** `gatehouse admin rotate-token`: a new admin token in DIR/admin.token; the old one stops working at once. */
export function adminCommand(): Command {
  const admin = new Command('admin').description('the admin plane');
  adminFlags(admin.command('rotate-token').description('replace the admin token (DIR/admin.token)')).action(
    async (flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        const result = await client.call<{ file: string }>('POST', '/v1/admin/rotate-token', {});
        print(output, result, (r: { file: string }) => `admin token rotated; the new token is in ${r.file}`);
      }),
  );
  return admin;
}
