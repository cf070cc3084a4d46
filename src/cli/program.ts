import { Command } from 'commander';
import { adminCommand } from './commands/admin.js';
import { apiCommand } from './commands/api.js';
import { apikeyCommand } from './commands/apikey.js';
import { caCommand } from './commands/ca.js';
import { clientCommand } from './commands/client.js';
import { userCommand } from './commands/user.js';
import { kmsCommand } from './commands/kms.js';
import { objectCommand } from './commands/object.js';
import { backupCommand, restoreCommand } from './commands/backup.js';
import { signingKeysCommands } from './commands/signing_keys.js';
import { upCommand } from './commands/up.js';
import { gatewayCommand } from './commands/gateway.js';
import { sidecarCommand } from './commands/sidecar.js';
import { identityCommand } from './commands/identity.js';
import { doctorCommand } from './commands/doctor.js';
import { statusCommand } from './commands/status.js';

/** The `gatehouse` command tree. Each verb lives in its own file under cli/commands/. */
export function buildProgram(): Command {
  const program = new Command('gatehouse')
    .description('A security platform for distributed systems: identity, PKI and mesh, gateway, KMS.')
    .version('0.1.0')
    .showHelpAfterError()
    // Options belong to the command they follow: `gatehouse kms --config F` runs the KMS alone, while
    // `gatehouse kms key list --data-dir D` gives --data-dir to `key list` (see cli/commands/standalone.ts).
    .enablePositionalOptions();
  program.addCommand(upCommand());
  program.addCommand(gatewayCommand());
  program.addCommand(sidecarCommand());
  program.addCommand(identityCommand());
  program.addCommand(adminCommand());
  program.addCommand(kmsCommand());
  program.addCommand(caCommand());
  program.addCommand(apiCommand());
  program.addCommand(clientCommand());
  program.addCommand(userCommand());
  program.addCommand(apikeyCommand());
  for (const command of signingKeysCommands()) program.addCommand(command);
  program.addCommand(objectCommand());
  program.addCommand(backupCommand());
  program.addCommand(restoreCommand());
  program.addCommand(statusCommand());
  program.addCommand(doctorCommand());
  return program;
}
