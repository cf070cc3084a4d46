import type { Logger } from '../core/index.js';

/**
 * Makes the first SIGINT or SIGTERM stop a long-running command: logs `message` with the signal, awaits `stop()`,
 * then exits 0, or 1 with a one-line reason on stderr when stopping failed.
 *
 * @example
 * exitOnSignals(() => running.stop(), logger, 'sidecar stopping');
 */
export function exitOnSignals(stop: () => Promise<void>, logger: Logger, message: string): void {
  const shutdown = (signal: string) => {
    logger.info({ signal }, message);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`gatehouse: stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
