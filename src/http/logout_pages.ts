import type { FastifyReply } from 'fastify';
import { GatehouseError } from '../core/index.js';
import { formActionSource, sessionCookie, type EndSessionRequest } from '../identity/index.js';
import { render, type IdentityPageContext, type PageScope } from './identity_page_context.js';
import { logoutView, messageView } from './identity_pages_views.js';
import { field, page } from './page_response.js';

/**
 * GET and POST /oauth2/logout: with `endSession`, also the OpenID Connect end_session_endpoint. A valid
 * `id_token_hint` of the signed-in person signs out at once; otherwise the person confirms ("Sign out",
 * CSRF-protected); then back to the registered `post_logout_redirect_uri` with `state`, or a "Signed out" page.
 *
 * @example
 * registerLogoutPages(scope, context);
 */
export function registerLogoutPages(scope: PageScope, context: IdentityPageContext): void {
  const { options, sid, failed } = context;
  const { flow } = options;
  const endSession = async (raw: string): Promise<EndSessionRequest> =>
    options.endSession && raw !== ''
      ? options.endSession.validate(raw)
      : { hintSubject: undefined, redirect: undefined };
  const signedOut = (reply: FastifyReply, request: EndSessionRequest, message: string, status = 303) =>
    request.redirect === undefined
      ? page(reply, 200, messageView('Signed out', message))
      : reply
          .code(status)
          .header('cache-control', 'no-store')
          .header('referrer-policy', 'no-referrer')
          .header('location', request.redirect)
          .send();
  scope.get('/oauth2/logout', async (request, reply) => {
    const raw = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    let ending: EndSessionRequest;
    try {
      ending = await endSession(raw);
    } catch (err) {
      return failed(reply, err);
    }
    const id = sid(request);
    const session = await options.sessions.read(id);
    if (!session?.username) return signedOut(reply, ending, 'You are not signed in.', 302);
    if (ending.hintSubject !== undefined && ending.hintSubject === session.username && id !== undefined) {
      await options.sessions.end(id);
      reply.header('set-cookie', sessionCookie('', 0));
      return signedOut(reply, ending, 'You are signed out.', 302);
    }
    return page(
      reply,
      200,
      logoutView({ csrf: session.csrf, username: session.username, ...(raw === '' ? {} : { query: raw }) }),
      ending.redirect === undefined ? undefined : formActionSource(ending.redirect),
    );
  });
  scope.post('/oauth2/logout', async (request, reply) => {
    let ending: EndSessionRequest;
    try {
      ending = await endSession(field(request.body, 'query') ?? '');
    } catch (err) {
      return failed(reply, err);
    }
    // nobody signed in (the session ended meanwhile, or in another tab): that is what signing out wanted
    const current = await options.sessions.read(sid(request));
    if (!current?.username) {
      reply.header('set-cookie', sessionCookie('', 0));
      return signedOut(reply, ending, 'You are signed out.');
    }
    const result = await flow.signOut({ csrf: field(request.body, 'csrf') }, sid(request));
    if (!result.ok)
      return render(reply, { kind: 'error', error: new GatehouseError('ERR_IDENTITY_CSRF') }, 'POST', options.sessions);
    reply.header('set-cookie', sessionCookie('', 0));
    return signedOut(reply, ending, 'You are signed out.');
  });
}
