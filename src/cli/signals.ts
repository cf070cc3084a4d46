import type { Logger } from '../core/index.js';

/**
 * Makes the first SIGINT or SIGTERM stop a long-running command: logs `message` with the signal, awaits the stop
 * function, logs `stopped` and exits 0, or 1 with a one-line reason on stderr when stopping failed. Call it before
 * starting anything, and hand it the stop function once the command runs: a signal that arrives while the command
 * starts (Node's default for SIGTERM would kill the process at once, before it can clean up) is remembered and stops
 * the command as soon as it has started.
 *
 * @example
 * const stopWith = exitOnSignals(logger, 'sidecar stopping');
 * const running = await startSidecar(options);
 * stopWith(() => running.stop());
 */
export function exitOnSignals(logger: Logger, message: string): (stop: () => Promise<void>) => void {
  let stop: (() => Promise<void>) | undefined;
  let pending: string | undefined;
  const run = (signal: string, fn: () => Promise<void>) => {
    logger.info({ signal }, message);
    fn().then(
      () => {
        logger.info({}, 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        console.error(`gatehouse: stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  const shutdown = (signal: string) => {
    if (stop === undefined) pending = signal;
    else run(signal, stop);
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return (fn) => {
    stop = fn;
    if (pending !== undefined) run(pending, fn);
  };
}
