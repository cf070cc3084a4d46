import { Command, InvalidArgumentError } from 'commander';
import { print } from '../output.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

interface ApiView {
  audience: string;
  scopes: Array<{ name: string; description: string }>;
}

/** Parses `name="plain-words description"` (the shell has already removed the quotes). */
function scopeArg(value: string, previous: Array<{ name: string; description: string }> = []) {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected name="description"');
  const description = value.slice(eq + 1).replace(/^"(.*)"$/s, '$1');
  return [...previous, { name: value.slice(0, eq), description }];
}

const describeApi = (api: ApiView) =>
  [api.audience, ...api.scopes.map((s) => `  ${s.name}  ${s.description}`)].join('\n');

/** `gatehouse api ...`: APIs (resource servers) and the scopes they define. */
export function apiCommand(): Command {
  const api = new Command('api').description('APIs (resource servers) and their scopes');
  adminFlags(api.command('create').description('register an API and its scopes'))
    .requiredOption('--audience <uri>', 'the API audience (absolute URI)')
    .option('--scope <name=description>', 'a scope it defines (repeatable)', scopeArg)
    .action(async (flags: AdminFlags & { audience: string; scope?: Array<{ name: string; description: string }> }) =>
      withAdmin(flags, async (client, output) => {
        const created = await client.call<ApiView>('POST', '/v1/identity/apis', {
          audience: flags.audience,
          scopes: flags.scope ?? [],
        });
        print(output, created, (a: ApiView) => `created API ${a.audience} with ${a.scopes.length} scope(s)`);
      }),
    );
  adminFlags(api.command('list').description('registered APIs')).action(async (flags: AdminFlags) =>
    withAdmin(flags, async (client, output) => {
      const result = await client.call<{ apis: ApiView[] }>('GET', '/v1/identity/apis');
      print(output, result, (r: { apis: ApiView[] }) =>
        r.apis.length === 0 ? 'no APIs' : r.apis.map(describeApi).join('\n'),
      );
    }),
  );
  adminFlags(api.command('show <audience>').description('one API')).action(
    async (audience: string, flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        print(
          output,
          await client.call<ApiView>('GET', `/v1/identity/apis/${encodeURIComponent(audience)}`),
          describeApi,
        );
      }),
  );
  adminFlags(api.command('delete <audience>').description('remove an API')).action(
    async (audience: string, flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        const result = await client.call('DELETE', `/v1/identity/apis/${encodeURIComponent(audience)}`);
        print(output, result, () => `deleted API ${audience}`);
      }),
  );
  return api;
}
