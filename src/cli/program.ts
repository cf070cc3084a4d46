import { Command } from 'commander';
import { adminCommand } from './commands/admin.js';
import { caCommand } from './commands/ca.js';
import { kmsCommand } from './commands/kms.js';
import { upCommand } from './commands/up.js';

/** The `gatehouse` command tree. Each verb lives in its own file under cli/commands/. */
export function buildProgram(): Command {
  const program = new Command('gatehouse')
    .description('A security platform for distributed systems: identity, PKI and mesh, gateway, KMS.')
    .version('0.1.0')
    .showHelpAfterError();
  program.addCommand(upCommand());
  program.addCommand(adminCommand());
  program.addCommand(kmsCommand());
  program.addCommand(caCommand());
  return program;
}
