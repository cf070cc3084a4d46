import { Command } from 'commander';
import { readJsonFile } from '../input_file.js';
import { columns, print, table } from '../output.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

interface ClientView {
  client_id: string;
  name: string;
  public: boolean;
  grant_types: string[];
  scopes: string[];
  audiences: string[];
  redirect_uris: string[];
  auth_method: string;
  access_token_ttl_ms?: number;
  secrets: Array<{ created_at: string; expires_at: string | null }>;
}

interface Created {
  client_id: string;
  client_secret?: string;
  client: ClientView;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

const describeClient = (c: ClientView) =>
  table([
    ['client_id', c.client_id],
    ['name', c.name],
    ['type', c.public ? 'public' : 'confidential'],
    ['grants', c.grant_types.join(' ')],
    ['scopes', c.scopes.join(' ')],
    ['audiences', c.audiences.join(' ')],
    ['redirect URIs', c.redirect_uris.join(' ')],
    ['auth method', c.auth_method],
    ['secrets', c.secrets.map((s) => (s.expires_at ? `expires ${s.expires_at}` : 'current')).join(', ')],
  ]);

const createdText = (c: Created) =>
  [
    `client_id      ${c.client_id}`,
    ...(c.client_secret ? [`client_secret  ${c.client_secret}`, '', 'The secret is shown only now: store it.'] : []),
  ].join('\n');

/** `gatehouse client ...`: OAuth clients (INTERFACES.md). */
export function clientCommand(): Command {
  const client = new Command('client').description('OAuth clients');
  adminFlags(client.command('create').description('register a client; prints client_id (and client_secret once)'))
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--grant <grant>', 'grant type (repeatable), e.g. client_credentials', collect)
    .option('--scope <scopes>', 'space-separated scopes the client may request', '')
    .option('--redirect-uri <uri>', 'exact redirect URI (repeatable)', collect)
    .option('--public', 'public client (no secret, auth method none)')
    .option('--audience <uri>', 'allowed audience (repeatable; the first is the default)', collect)
    .option(
      '--auth-method <method>',
      'client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or none',
    )
    .option('--jwks-file <file>', 'JSON file with the public keys for private_key_jwt ({"keys": [...]})')
    .option('--access-token-ttl <duration>', 'access token lifetime, e.g. 15m')
    .option('--legacy-implicit', 'allow the implicit grant (not recommended)')
    .option(
      '--tls-client-auth-san-uri <id>',
      'SPIFFE ID the client certificate must carry: tls_client_auth on the mTLS listener (RFC 8705)',
    )
    .option('--role <role>', 'role of the client as a subject (repeatable; resource-server: may introspect)', collect)
    .option(
      '--allowed-origin <origin>',
      'browser origin allowed to call the token endpoint with CORS (repeatable)',
      collect,
    )
    .option('--id-token-alg <alg>', 'OpenID Connect ID token signing algorithm: RS256 (default) or ES256')
    .option(
      '--post-logout-redirect-uri <uri>',
      'where OpenID Connect logout may return the person (repeatable, exact match)',
      collect,
    )
    .option(
      '--spiffe-id <id>',
      'workload SPIFFE ID the client may enroll at the CA with its token (repeatable)',
      collect,
    )
    .action(
      async (
        flags: AdminFlags & {
          name: string;
          grant: string[];
          scope: string;
          redirectUri?: string[];
          public?: boolean;
          audience?: string[];
          authMethod?: string;
          jwksFile?: string;
          accessTokenTtl?: string;
          legacyImplicit?: boolean;
          tlsClientAuthSanUri?: string;
          role?: string[];
          allowedOrigin?: string[];
          idTokenAlg?: string;
          postLogoutRedirectUri?: string[];
          spiffeId?: string[];
        },
      ) => {
        const jwks = flags.jwksFile ? readJsonFile(flags.jwksFile, '--jwks-file') : undefined;
        await withAdmin(flags, async (admin, output) => {
          const created = await admin.call<Created>('POST', '/v1/identity/clients', {
            name: flags.name,
            grant_types: flags.grant,
            scope: flags.scope,
            ...(flags.redirectUri ? { redirect_uris: flags.redirectUri } : {}),
            ...(flags.public ? { public: true } : {}),
            ...(flags.audience ? { audiences: flags.audience } : {}),
            ...(flags.authMethod ? { auth_method: flags.authMethod } : {}),
            ...(jwks === undefined ? {} : { jwks }),
            ...(flags.accessTokenTtl ? { access_token_ttl: flags.accessTokenTtl } : {}),
            ...(flags.legacyImplicit ? { legacy_implicit: true } : {}),
            ...(flags.tlsClientAuthSanUri ? { tls_client_auth_san_uri: flags.tlsClientAuthSanUri } : {}),
            ...(flags.role ? { roles: flags.role } : {}),
            ...(flags.allowedOrigin ? { allowed_origins: flags.allowedOrigin } : {}),
            ...(flags.idTokenAlg ? { id_token_signed_response_alg: flags.idTokenAlg } : {}),
            ...(flags.postLogoutRedirectUri ? { post_logout_redirect_uris: flags.postLogoutRedirectUri } : {}),
            ...(flags.spiffeId ? { spiffe_ids: flags.spiffeId } : {}),
          });
          print(output, created, createdText);
        });
      },
    );
  adminFlags(client.command('list').description('registered clients')).action(async (flags: AdminFlags) =>
    withAdmin(flags, async (admin, output) => {
      const result = await admin.call<{ clients: ClientView[] }>('GET', '/v1/identity/clients');
      print(output, result, (r: { clients: ClientView[] }) =>
        r.clients.length === 0
          ? 'no clients'
          : columns(r.clients.map((c) => [c.client_id, c.name, c.grant_types.join(',')])),
      );
    }),
  );
  adminFlags(client.command('show <client_id>').description('one client (never its secret)')).action(
    async (id: string, flags: AdminFlags) =>
      withAdmin(flags, async (admin, output) => {
        print(
          output,
          await admin.call<ClientView>('GET', `/v1/identity/clients/${encodeURIComponent(id)}`),
          describeClient,
        );
      }),
  );
  adminFlags(client.command('rotate-secret <client_id>').description('new secret; the old one works for the overlap'))
    .option('--overlap <duration>', 'how long the old secret stays valid (default identity.secretRotationOverlap)')
    .action(async (id: string, flags: AdminFlags & { overlap?: string }) =>
      withAdmin(flags, async (admin, output) => {
        const rotated = await admin.call<Created>(
          'POST',
          `/v1/identity/clients/${encodeURIComponent(id)}/rotate-secret`,
          flags.overlap ? { overlap: flags.overlap } : {},
        );
        print(output, rotated, createdText);
      }),
    );
  adminFlags(client.command('delete <client_id>').description('remove a client')).action(
    async (id: string, flags: AdminFlags) =>
      withAdmin(flags, async (admin, output) => {
        const result = await admin.call('DELETE', `/v1/identity/clients/${encodeURIComponent(id)}`);
        print(output, result, () => `deleted client ${id}`);
      }),
  );
  return client;
}
