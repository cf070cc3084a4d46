import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GatehouseError } from '../core/index.js';
import { adminCall, requireAdminToken, type AdminCall, type AdminTokenCheck } from './admin_auth.js';

/**
 * What the user admin routes need; app/user_admin.ts implements it. Results are JSON-ready (snake_case). The
 * operations that change something take the {@link AdminCall} first (who called, for the audit line).
 */
export interface UserAdminOperations {
  createUser(call: AdminCall, body: { username: string; password: string; roles?: string[] }): Promise<unknown>;
  listUsers(): Promise<unknown>;
  getUser(username: string): Promise<unknown>;
  setPassword(call: AdminCall, username: string, password: string): Promise<unknown>;
  setDisabled(call: AdminCall, username: string, disabled: boolean): Promise<unknown>;
}

const createBody = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
  roles: z.array(z.string().min(1).max(64)).max(50).optional(),
});
const passwordBody = z.strictObject({ password: z.string().min(1).max(1024) });
const disableBody = z.strictObject({ disabled: z.boolean().default(true) });
const userParams = z.strictObject({ username: z.string().min(1).max(64) });

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join('.') || 'body';
    // never echo the value: it may be a password
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: `Invalid request: ${where}` });
  }
  return result.data;
}

/**
 * Local users on the admin API (admin token required): create, list, show, set password (ends the user's sessions
 * and refresh tokens), disable/enable. Passwords are accepted only in JSON bodies and never returned or logged.
 *
 * @example
 * registerUserAdminRoutes(admin.app, checkAdmin, userAdminOperations(identity, logger));
 */
export function registerUserAdminRoutes(
  app: FastifyInstance,
  checkToken: AdminTokenCheck,
  ops: UserAdminOperations,
): void {
  void app.register(async (scope) => {
    scope.addHook('preHandler', requireAdminToken(checkToken));
    scope.post('/v1/identity/users', async (request, reply) =>
      reply.code(201).send(await ops.createUser(adminCall(request), parse(createBody, request.body))),
    );
    scope.get('/v1/identity/users', async () => ({ users: await ops.listUsers() }));
    scope.get('/v1/identity/users/:username', async (request) =>
      ops.getUser(parse(userParams, request.params).username),
    );
    scope.post('/v1/identity/users/:username/password', async (request) =>
      ops.setPassword(
        adminCall(request),
        parse(userParams, request.params).username,
        parse(passwordBody, request.body).password,
      ),
    );
    scope.post('/v1/identity/users/:username/disable', async (request) =>
      ops.setDisabled(
        adminCall(request),
        parse(userParams, request.params).username,
        parse(disableBody, request.body).disabled,
      ),
    );
  });
}
