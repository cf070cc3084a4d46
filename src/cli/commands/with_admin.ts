import type { Command } from 'commander';
import { AdminClient } from '../admin_client.js';
import type { Output } from '../output.js';

export interface AdminFlags {
  dataDir: string;
  json?: boolean;
}

/** Adds the flags every admin command takes. */
export function adminFlags(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'data directory of the running gatehouse', './.gatehouse')
    .option('--json', 'print exactly one JSON document');
}

/** Runs `fn` with a client for the gatehouse running on --data-dir, closing it afterwards. */
export async function withAdmin<T>(
  flags: AdminFlags,
  fn: (client: AdminClient, output: Output) => Promise<T>,
): Promise<T> {
  const client = AdminClient.connect(flags.dataDir);
  try {
    return await fn(client, { json: flags.json === true });
  } finally {
    await client.close();
  }
}
