import { Command } from 'commander';

/** The `gatehouse` command tree. Each verb lives in its own file under cli/commands/. */
export function buildProgram(): Command {
  const program = new Command('gatehouse')
    .description('A security platform for distributed systems: identity, PKI and mesh, gateway, KMS.')
    .version('0.1.0');
  return program;
}
