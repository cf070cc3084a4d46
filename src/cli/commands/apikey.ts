import { Command } from 'commander';
import { columns, print, table } from '../output.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

interface ApiKeyView {
  id: string;
  name: string;
  scopes: string[];
  owner: string | null;
  audiences: string[];
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  versions: Array<{ created_at: string; expires_at: string | null }>;
}

interface Issued {
  id: string;
  key: string;
  api_key: ApiKeyView;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

const issuedText = (k: Issued) =>
  [`id   ${k.id}`, `key  ${k.key}`, '', 'The key is shown only now: store it.'].join('\n');

const status = (k: ApiKeyView) => (k.revoked_at ? 'revoked' : k.expires_at ? `expires ${k.expires_at}` : 'active');

const describe = (k: ApiKeyView) =>
  table([
    ['id', k.id],
    ['name', k.name],
    ['scopes', k.scopes.join(' ')],
    ['owner', k.owner ?? ''],
    ['audiences', k.audiences.join(' ')],
    ['created', k.created_at],
    ['status', status(k)],
    ['last used', k.last_used_at ?? 'never'],
    ['versions', k.versions.map((v) => (v.expires_at ? `until ${v.expires_at}` : 'current')).join(', ')],
  ]);

/** `gatehouse apikey create|list|show|revoke|rotate` (INTERFACES.md). */
export function apikeyCommand(): Command {
  const apikey = new Command('apikey').description('API keys (ghk_…)');
  adminFlags(apikey.command('create').description('create an API key; prints it once (JSON keys id, key)'))
    .requiredOption('--name <name>', 'display name')
    .option('--scope <scopes>', 'space-separated scopes, e.g. "demo kms:encrypt:orders"', '')
    .option('--owner <owner>', 'owner (a client_id that may introspect and revoke the key, or free text)')
    .option('--audience <uri>', 'API the key is meant for (repeatable; none: any resource server)', collect)
    .option('--expires-in <duration>', 'lifetime, e.g. 30d (default: no expiry)')
    .action(
      async (
        flags: AdminFlags & { name: string; scope: string; owner?: string; audience?: string[]; expiresIn?: string },
      ) =>
        withAdmin(flags, async (admin, output) => {
          const created = await admin.call<Issued>('POST', '/v1/identity/api-keys', {
            name: flags.name,
            scope: flags.scope,
            ...(flags.owner ? { owner: flags.owner } : {}),
            ...(flags.audience ? { audiences: flags.audience } : {}),
            ...(flags.expiresIn ? { expires_in: flags.expiresIn } : {}),
          });
          print(output, created, issuedText);
        }),
    );
  adminFlags(apikey.command('list').description('API keys (never the keys themselves)')).action(
    async (flags: AdminFlags) =>
      withAdmin(flags, async (admin, output) => {
        const result = await admin.call<{ api_keys: ApiKeyView[] }>('GET', '/v1/identity/api-keys');
        print(output, result, (r: { api_keys: ApiKeyView[] }) =>
          r.api_keys.length === 0
            ? 'no API keys'
            : columns(r.api_keys.map((k) => [k.id, k.name, status(k), `[${k.scopes.join(' ')}]`])),
        );
      }),
  );
  adminFlags(apikey.command('show <id>').description('one API key')).action(async (id: string, flags: AdminFlags) =>
    withAdmin(flags, async (admin, output) => {
      print(output, await admin.call<ApiKeyView>('GET', `/v1/identity/api-keys/${encodeURIComponent(id)}`), describe);
    }),
  );
  adminFlags(apikey.command('revoke <id>').description('revoke an API key at once')).action(
    async (id: string, flags: AdminFlags) =>
      withAdmin(flags, async (admin, output) => {
        const result = await admin.call<ApiKeyView>(
          'POST',
          `/v1/identity/api-keys/${encodeURIComponent(id)}/revoke`,
          {},
        );
        print(output, result, () => `revoked API key ${id}`);
      }),
  );
  adminFlags(apikey.command('rotate <id>').description('new key for the same id; the old one works for the overlap'))
    .option('--overlap <duration>', 'how long the old key stays valid (default identity.apiKeys.rotationOverlap)')
    .action(async (id: string, flags: AdminFlags & { overlap?: string }) =>
      withAdmin(flags, async (admin, output) => {
        const rotated = await admin.call<Issued>(
          'POST',
          `/v1/identity/api-keys/${encodeURIComponent(id)}/rotate`,
          flags.overlap ? { overlap: flags.overlap } : {},
        );
        print(output, rotated, issuedText);
      }),
    );
  return apikey;
}
