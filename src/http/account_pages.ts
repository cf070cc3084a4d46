import { GatehouseError } from '../core/index.js';
import { SessionStore, scopeWords } from '../identity/index.js';
import { ACCOUNT_PATH, render, type IdentityPageContext, type PageScope } from './identity_page_context.js';
import { accountView } from './identity_pages_views.js';
import { field, page } from './page_response.js';

/**
 * GET /oauth2/account (who is signed in, the apps they allowed, in the consent page's words) and POST
 * /oauth2/account/revoke ("Revoke": the app's remembered consent and refresh tokens end; CSRF-protected, audited).
 *
 * @example
 * registerAccountPages(scope, context);
 */
export function registerAccountPages(scope: PageScope, context: IdentityPageContext): void {
  const { options, sid, address, failed } = context;
  const { flow, logger } = options;
  scope.get(ACCOUNT_PATH, async (request, reply) => {
    try {
      const session = await options.sessions.read(sid(request));
      if (!session?.account || !session.username)
        return render(reply, await flow.loginPage(sid(request), address(request)), 'GET', options.sessions);
      const apps = await options.apps.list(session.account);
      // the scopes in plain words, as the consent page showed them (offline_access is said apart)
      const described = async (list: Array<{ audience: string; scopes: string[] }>) =>
        Promise.all(
          list.map(async ({ audience, scopes }) => {
            const kept = scopes.filter((scope) => scope !== 'offline_access');
            const api = options.apis ? await options.apis.get(audience) : undefined;
            return { audience, scopes: options.apis ? scopeWords(kept, api).map((w) => w.description) : kept };
          }),
        );
      const named = await Promise.all(
        apps.map(async (app) => ({
          ...app,
          allowed: await described(app.allowed),
          connected: await described(app.connected),
          clientName: (await options.clients.get(app.clientId))?.name ?? app.clientId,
        })),
      );
      return page(
        reply,
        200,
        accountView({
          csrf: session.csrf,
          username: session.username,
          apps: named,
          unusedLimitMs: options.apps.unusedLimitMs,
        }),
      );
    } catch (err) {
      return failed(reply, err);
    }
  });
  scope.post(`${ACCOUNT_PATH}/revoke`, async (request, reply) => {
    const session = await options.sessions.read(sid(request));
    if (!SessionStore.csrfMatches(session, field(request.body, 'csrf')) || !session?.account) {
      return render(reply, { kind: 'error', error: new GatehouseError('ERR_IDENTITY_CSRF') }, 'POST', options.sessions);
    }
    const clientId = field(request.body, 'client_id');
    if (clientId) {
      await options.apps.revoke(session.account, clientId);
      logger.info(
        { audit: true, event: 'app_revoked', username: session.username, clientId },
        'the person revoked an app on the account page',
      );
    }
    return reply.code(303).header('cache-control', 'no-store').header('location', ACCOUNT_PATH).send();
  });
}
