import { Command } from 'commander';
import { columns, print } from '../output.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

interface Rotated {
  kid: string;
  alg: string;
  activates_at: string;
}

function rotateCommand(name: string, description: string): Command {
  return adminFlags(new Command(name).description(description)).action(async (flags: AdminFlags) =>
    withAdmin(flags, async (client, output) => {
      const result = await client.call<Rotated>('POST', '/v1/identity/signing-keys/rotate', {});
      print(
        output,
        result,
        (r: Rotated) => `signing key ${r.kid} (${r.alg}) published; it signs from ${r.activates_at}`,
      );
    }),
  );
}

/** `gatehouse signing-keys rotate` (alias `gatehouse keys rotate`): pre-published token signing key rotation. */
export function signingKeysCommands(): Command[] {
  const signingKeys = new Command('signing-keys').description('access token signing keys');
  signingKeys.addCommand(
    rotateCommand('rotate', 'publish the next signing key (it signs after identity.signing.prePublish)'),
  );
  adminFlags(signingKeys.command('list').description('signing keys and their timeline')).action(
    async (flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        const result = await client.call<{ keys: Array<Record<string, string | null>> }>(
          'GET',
          '/v1/identity/signing-keys',
        );
        print(output, result, (r: { keys: Array<Record<string, string | null>> }) =>
          columns(
            r.keys.map((k) => [
              k.kid ?? '',
              k.alg ?? '',
              `signs ${k.activates_at} → ${k.retires_at ?? 'until rotated'}`,
            ]),
          ),
        );
      }),
  );
  const keys = new Command('keys').description('alias of signing-keys');
  keys.addCommand(rotateCommand('rotate', 'alias of gatehouse signing-keys rotate'));
  return [signingKeys, keys];
}
