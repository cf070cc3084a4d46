import { Command } from 'commander';
import { print } from '../output.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

/**
 * `gatehouse admin rotate-token`: a new admin token in DIR/admin.token; the old one stops working at once.
 * `gatehouse admin purge-cache [--route NAME] [--path-prefix P]`: drops gateway response-cache entries.
 */
export function adminCommand(): Command {
  const admin = new Command('admin').description('the admin plane');
  adminFlags(admin.command('rotate-token').description('replace the admin token (DIR/admin.token)')).action(
    async (flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        const result = await client.call<{ file: string }>('POST', '/v1/admin/rotate-token', {});
        print(output, result, (r: { file: string }) => `admin token rotated; the new token is in ${r.file}`);
      }),
  );
  adminFlags(
    admin
      .command('purge-cache')
      .description('drop gateway response-cache entries: all, or one route, or those under a path prefix')
      .option('--route <name>', 'only the entries of this route')
      .option('--path-prefix <path>', 'only entries whose request target starts with this (e.g. /products/)'),
  ).action(async (flags: AdminFlags & { route?: string; pathPrefix?: string }) =>
    withAdmin(flags, async (client, output) => {
      const body = {
        ...(flags.route === undefined ? {} : { route: flags.route }),
        ...(flags.pathPrefix === undefined ? {} : { path_prefix: flags.pathPrefix }),
      };
      const result = await client.call<{ purged: number }>('POST', '/v1/gateway/cache/purge', body);
      print(output, result, (r: { purged: number }) => `purged ${r.purged} cached responses`);
    }),
  );
  return admin;
}
