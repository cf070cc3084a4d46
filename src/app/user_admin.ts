import type { Logger } from '../core/index.js';
import type { AdminCall, UserAdminOperations } from '../http/index.js';
import { userView } from '../identity/index.js';
import { snakeCase } from './admin_operations.js';
import type { IdentityServer } from './identity_server.js';

/**
 * The user admin operations on this process's identity server, audited (the username and the operation; never the
 * password).
 *
 * @example
 * registerUserAdminRoutes(admin.app, checkAdmin, userAdminOperations(identity, logger));
 */
export function userAdminOperations(identity: IdentityServer, logger: Logger): UserAdminOperations {
  const audit = logger.child({ audit: true });
  const { users } = identity.people;
  const done = (call: AdminCall, operation: string, username: string, value: unknown): unknown => {
    audit.info({ actor: call.actor, operation, username, result: 'ok' }, 'admin operation');
    return snakeCase(value);
  };
  const view = (user: Parameters<typeof userView>[0]) => {
    const v = userView(user);
    return { ...v, createdAt: new Date(v.createdAt), updatedAt: new Date(v.updatedAt) };
  };
  return {
    createUser: async (call, body) => done(call, 'identity.user.create', body.username, view(await users.create(body))),
    listUsers: async () => snakeCase((await users.list()).map(view)),
    getUser: async (username) => snakeCase(view(await users.get(username))),
    setPassword: async (call, username, password) =>
      done(call, 'identity.user.passwd', username, view(await users.setPassword(username, password))),
    setDisabled: async (call, username, disabled) =>
      done(
        call,
        disabled ? 'identity.user.disable' : 'identity.user.enable',
        username,
        view(await users.setDisabled(username, disabled)),
      ),
  };
}
