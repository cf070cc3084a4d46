#!/usr/bin/env node
import { InvalidArgumentError, type Command } from 'commander';
import { isGatehouseError } from '../core/index.js';
import { buildProgram } from './program.js';
import { exitWhenFlushed, runsUntilSignalled } from './signals.js';

/** Usage errors exit 2 on every subcommand (commander's own default is 1). */
function usageExitsTwo(command: Command): Command {
  command.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });
  for (const sub of command.commands) usageExitsTwo(sub);
  return command;
}

// A reader that stops early (`gatehouse kms key list | head -1`) closes stdout. A one-shot command then ends quietly
// with 141, as a Unix tool killed by SIGPIPE does, instead of an EPIPE stack trace; a long-running command keeps
// serving (its logs go to stderr).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  if (!runsUntilSignalled()) process.exit(141);
});

/** Exit codes: 0 done, 1 failed, 2 usage error, 3 nothing running on the data directory, 141 stdout closed early. */
usageExitsTwo(buildProgram())
  .parseAsync(process.argv)
  .then(() => {
    // A one-shot command is done when its action resolves; a long-running one (up, gateway, sidecar, a component run
    // alone) keeps serving until a signal stops it.
    if (!runsUntilSignalled()) exitWhenFlushed(Number(process.exitCode ?? 0));
  })
  .catch((err: unknown) => {
    const message = (err as Error).message ?? String(err);
    console.error(`gatehouse: ${message.split('\n')[0]}`);
    // An argument a command's action finds malformed (`object get BUCKET` without /KEY) is a usage error, like the
    // ones commander finds while parsing.
    const code = isGatehouseError(err, 'ERR_NOT_RUNNING') ? 3 : err instanceof InvalidArgumentError ? 2 : 1;
    process.exit(code);
  });
