import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { oauthFormScope } from './oauth_form_scope.js';
import { isGatehouseError, type GatehouseError, type Logger } from '../core/index.js';
import {
  DEVICE_VERIFICATION_PATH,
  IDENTITY_PATHS,
  sessionCookie,
  sessionIdFromCookie,
  type AuthorizationFlow,
  type DeviceAuthorizationEndpoint,
  type DeviceOutcome,
  type DeviceVerification,
  type SessionStore,
} from '../identity/index.js';
import { deviceCodeView, deviceConsentView, deviceLoginView } from './identity_device_views.js';
import { field, page, serverFailurePage } from './page_response.js';
import { messageView } from './identity_pages_views.js';

/** What the device routes need; app/identity_listener.ts supplies it. */
export interface IdentityDevicePagesOptions {
  endpoint: DeviceAuthorizationEndpoint;
  verification: DeviceVerification;
  flow: AuthorizationFlow;
  sessions: SessionStore;
  logger: Logger;
  maxBodyBytes: number;
}

function failure(reply: FastifyReply, error: GatehouseError): FastifyReply {
  const retry = (error as { retryAfterSeconds?: number }).retryAfterSeconds;
  if (typeof retry === 'number') reply.header('retry-after', String(retry));
  return reply;
}

/** Where the device consent form's answer lands (a GET, so that a reload does not resend the decision). */
const DEVICE_DONE_PATH = `${DEVICE_VERIFICATION_PATH}/done`;

function render(reply: FastifyReply, outcome: DeviceOutcome, sessions: SessionStore, userCode = ''): FastifyReply {
  if (outcome.session) {
    reply.header(
      'set-cookie',
      sessionCookie(outcome.session.id, sessions.cookieMaxAgeSeconds(outcome.session.session)),
    );
  }
  switch (outcome.kind) {
    case 'login':
      return page(reply, 200, deviceLoginView({ csrf: outcome.csrf, userCode }));
    case 'enter':
      if (outcome.error) failure(reply, outcome.error);
      return page(
        reply,
        outcome.error ? outcome.error.status : 200,
        deviceCodeView({
          csrf: outcome.csrf,
          username: outcome.username,
          userCode: outcome.userCode,
          ...(outcome.error ? { error: outcome.error.message } : {}),
        }),
      );
    case 'confirm':
      return page(reply, 200, deviceConsentView(outcome));
    case 'done':
      return page(
        reply,
        200,
        outcome.approved
          ? messageView('Device connected', 'You may return to your device.')
          : messageView('Device not connected', 'You denied the request. You may close this page.'),
      );
    case 'error':
      failure(reply, outcome.error);
      return page(reply, outcome.error.status, messageView('Something went wrong', outcome.error.message, 'alert'));
  }
}

/**
 * The Device Authorization Grant's routes (RFC 8628): POST /oauth2/device_authorization (JSON, client-authenticated),
 * and the person's pages: GET /oauth2/device (the `verification_uri`, `?user_code=` prefills), POST
 * /oauth2/device/login ("Sign in", then back to the code form), POST /oauth2/device ("Confirm"), POST
 * /oauth2/device/consent ("Allow"/"Deny"). Strict CSP, CSRF on every form, no CORS; bad input is never a 500.
 *
 * @example
 * registerIdentityDevicePages(server.app, { endpoint, verification, flow, sessions, logger, maxBodyBytes: 8192 });
 */
export function registerIdentityDevicePages(app: FastifyInstance, options: IdentityDevicePagesOptions): void {
  const { verification, sessions, logger } = options;
  const sid = (request: FastifyRequest) => sessionIdFromCookie(request.headers.cookie);
  const address = (request: FastifyRequest) => request.socket.remoteAddress ?? 'unknown';
  const guarded =
    (handler: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        return await handler(request, reply);
      } catch (err) {
        if (isGatehouseError(err) && err.status < 500) return render(reply, { kind: 'error', error: err }, sessions);
        return serverFailurePage(reply, err, logger, 'device page failed');
      }
    };

  void app.register(async (scope) => {
    oauthFormScope(scope, options.maxBodyBytes);
    scope.post(IDENTITY_PATHS.deviceAuthorization, async (request, reply) => {
      const response = await options.endpoint.handle({
        contentType: request.headers['content-type'],
        body: typeof request.body === 'string' ? request.body : '',
        authorization: request.headers.authorization,
        address: address(request),
      });
      return reply.code(response.status).headers(response.headers).send(response.body);
    });
  });

  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: options.maxBodyBytes },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    scope.setErrorHandler((_err, _request, reply) =>
      page(reply, 400, messageView('Something went wrong', 'The form could not be read.', 'alert')),
    );
    scope.get(
      DEVICE_VERIFICATION_PATH,
      guarded(async (request, reply) => {
        const userCode = (request.query as Record<string, unknown> | undefined)?.user_code;
        const prefill = typeof userCode === 'string' ? userCode.slice(0, 64) : '';
        return render(reply, await verification.page(sid(request), prefill, address(request)), sessions, prefill);
      }),
    );
    // the form targets, typed into the address bar or restored without their form: the device page, not a 404
    for (const path of [`${DEVICE_VERIFICATION_PATH}/login`, `${DEVICE_VERIFICATION_PATH}/consent`]) {
      scope.get(path, async (_request, reply) =>
        reply.code(302).header('cache-control', 'no-store').header('location', DEVICE_VERIFICATION_PATH).send(),
      );
    }
    scope.post(
      `${DEVICE_VERIFICATION_PATH}/login`,
      guarded(async (request, reply) => {
        const userCode = (field(request.body, 'user_code') ?? '').slice(0, 64);
        const outcome = await options.flow.signIn(
          {
            query: '',
            username: field(request.body, 'username'),
            password: field(request.body, 'password'),
            csrf: field(request.body, 'csrf'),
          },
          sid(request),
          address(request),
        );
        if (outcome.session) {
          reply.header(
            'set-cookie',
            sessionCookie(outcome.session.id, sessions.cookieMaxAgeSeconds(outcome.session.session)),
          );
        }
        if (outcome.kind === 'signed-in') {
          const location = `${DEVICE_VERIFICATION_PATH}${userCode ? `?user_code=${encodeURIComponent(userCode)}` : ''}`;
          return reply.code(303).header('cache-control', 'no-store').header('location', location).send();
        }
        if (outcome.kind === 'login') {
          if (outcome.error) failure(reply, outcome.error);
          return page(
            reply,
            outcome.error ? outcome.error.status : 200,
            deviceLoginView({
              csrf: outcome.csrf,
              userCode,
              ...(outcome.loginHint ? { username: outcome.loginHint } : {}),
              ...(outcome.error ? { error: outcome.error.message } : {}),
            }),
          );
        }
        const error = outcome.kind === 'error' ? outcome.error : undefined;
        if (error) return render(reply, { kind: 'error', error }, sessions);
        return page(reply, 400, messageView('Something went wrong', 'Please try again.', 'alert'));
      }),
    );
    scope.post(
      DEVICE_VERIFICATION_PATH,
      guarded(async (request, reply) => {
        const form = { user_code: field(request.body, 'user_code'), csrf: field(request.body, 'csrf') };
        const outcome = await verification.enter(form, sid(request), address(request));
        return render(reply, outcome, sessions, (form.user_code ?? '').slice(0, 64));
      }),
    );
    scope.post(
      `${DEVICE_VERIFICATION_PATH}/consent`,
      guarded(async (request, reply) => {
        const form = {
          user_code: field(request.body, 'user_code'),
          csrf: field(request.body, 'csrf'),
          decision: field(request.body, 'decision'),
        };
        const outcome = await verification.decide(form, sid(request), address(request));
        // POST, then redirect, then GET: reloading the answer page must not send the decision again (the code is
        // gone by then, so a resent form read "code not valid" and counted as a wrong code against the throttle).
        if (outcome.kind === 'done') {
          const location = `${DEVICE_DONE_PATH}?result=${outcome.approved ? 'connected' : 'denied'}`;
          return reply.code(303).header('cache-control', 'no-store').header('location', location).send();
        }
        return render(reply, outcome, sessions);
      }),
    );
    scope.get(DEVICE_DONE_PATH, async (request, reply) => {
      const result = (request.query as Record<string, unknown> | undefined)?.result;
      return render(reply, { kind: 'done', approved: result === 'connected' }, sessions);
    });
  });
}
