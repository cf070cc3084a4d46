import { Command } from 'commander';
import { runsAlone } from './standalone.js';

/**
 * `gatehouse identity --config FILE`: the identity issuer alone on the configured storage; several replicas may share
 * one PostgreSQL and one Redis (docs/operations.md).
 *
 * @example
 * program.addCommand(identityCommand());
 */
export function identityCommand(): Command {
  return runsAlone(
    new Command('identity').description(
      'run the identity issuer (OAuth2 authorization server) alone on the configured storage (docs/operations.md)',
    ),
    'identity',
  );
}
