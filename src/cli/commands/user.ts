import { Command, InvalidArgumentError } from 'commander';
import { print } from '../output.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

interface UserView {
  username: string;
  roles: string[];
  disabled: boolean;
  created_at: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Reads the password from stdin (one trailing newline removed); refuses a terminal-less empty input. */
async function passwordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > 4096) throw new InvalidArgumentError('the password on stdin is too long');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text.length === 0) throw new InvalidArgumentError('no password on stdin');
  return text;
}

function requireStdin(flags: { passwordStdin?: boolean }): void {
  if (!flags.passwordStdin) {
    throw new InvalidArgumentError('pass the password on stdin with --password-stdin (never on the command line)');
  }
}

const describeUser = (u: UserView) =>
  `${u.username}${u.disabled ? ' (disabled)' : ''}${u.roles.length ? `  roles: ${u.roles.join(', ')}` : ''}`;

/** `gatehouse user ...`: local users who sign in with a password (docs/sign-in.md). */
export function userCommand(): Command {
  const user = new Command('user').description('local users who sign in with a password');
  adminFlags(user.command('create').description('create a user; the password is read from stdin'))
    .requiredOption('--username <name>', 'the username (1-64 letters, digits, . _ - @)')
    .option('--role <role>', 'a role carried into access tokens (repeatable)', collect)
    .option('--password-stdin', 'read the password from stdin')
    .action(async (flags: AdminFlags & { username: string; role?: string[]; passwordStdin?: boolean }) => {
      requireStdin(flags);
      const password = await passwordFromStdin();
      await withAdmin(flags, async (client, output) => {
        const created = await client.call<UserView>('POST', '/v1/identity/users', {
          username: flags.username,
          password,
          roles: flags.role ?? [],
        });
        print(output, created, (u: UserView) => `created user ${describeUser(u)}`);
      });
    });
  adminFlags(user.command('passwd <username>').description('set a new password (ends sessions and refresh tokens)'))
    .option('--password-stdin', 'read the password from stdin')
    .action(async (username: string, flags: AdminFlags & { passwordStdin?: boolean }) => {
      requireStdin(flags);
      const password = await passwordFromStdin();
      await withAdmin(flags, async (client, output) => {
        const result = await client.call<UserView>(
          'POST',
          `/v1/identity/users/${encodeURIComponent(username)}/password`,
          { password },
        );
        print(output, result, (u: UserView) => `password of ${u.username} changed; their sessions were ended`);
      });
    });
  adminFlags(user.command('disable <username>').description('disable a user (ends sessions and refresh tokens)'))
    .option('--enable', 'enable the user again instead')
    .action(async (username: string, flags: AdminFlags & { enable?: boolean }) =>
      withAdmin(flags, async (client, output) => {
        const result = await client.call<UserView>(
          'POST',
          `/v1/identity/users/${encodeURIComponent(username)}/disable`,
          { disabled: flags.enable !== true },
        );
        print(output, result, (u: UserView) => `${u.username} ${u.disabled ? 'disabled' : 'enabled'}`);
      }),
    );
  adminFlags(user.command('list').description('local users')).action(async (flags: AdminFlags) =>
    withAdmin(flags, async (client, output) => {
      const result = await client.call<{ users: UserView[] }>('GET', '/v1/identity/users');
      print(output, result, (r: { users: UserView[] }) =>
        r.users.length === 0 ? 'no users' : r.users.map(describeUser).join('\n'),
      );
    }),
  );
  return user;
}
