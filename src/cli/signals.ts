import { constants } from 'node:os';
import type { Logger } from '../core/index.js';

let serving = false;

/** True once a command called {@link exitOnSignals}: it runs until a signal stops it. */
export function runsUntilSignalled(): boolean {
  return serving;
}

/**
 * Exits with `code` once stdout and stderr have taken everything written so far. A one-shot command calls it when its
 * work is done: Node would otherwise wait, before exiting, for background work V8 has queued (the tier-up compilation
 * of undici's llhttp WebAssembly, about 200 ms on this machine's class of CPU), which no command needs.
 *
 * @example
 * await program.parseAsync(process.argv);
 * if (!runsUntilSignalled()) exitWhenFlushed(0);
 */
export function exitWhenFlushed(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

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
  serving = true;
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

/**
 * Takes `signal` over now (Node's default for SIGHUP would kill the process) and returns the function that, once the
 * command runs, sets what the signal does. Each arrival then runs it, one at a time in signal order; arrivals before
 * it is set (during start-up) are held and run it once as soon as it is set. A rejection is the handler's to log.
 *
 * @example
 * const onHangup = heldSignal('SIGHUP');
 * const running = await start();
 * onHangup(() => running.reload());
 */
export function heldSignal(signal: NodeJS.Signals): (handler: () => Promise<void>) => void {
  let handler: (() => Promise<void>) | undefined;
  let held = false;
  let queue = Promise.resolve();
  const run = (fn: () => Promise<void>) => {
    queue = queue.then(fn).catch(() => {});
  };
  process.on(signal, () => {
    if (handler === undefined) held = true;
    else run(handler);
  });
  return (fn) => {
    handler = fn;
    if (held) run(fn);
  };
}

/** The signals that end a one-shot command from outside: Ctrl-C, a service manager or `kill`, a closed terminal. */
const INTERRUPTS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * For a one-shot command that leaves something behind when killed half way (a temporary file or directory): until the
 * returned release function is called, SIGINT, SIGTERM or SIGHUP runs `cleanup` (synchronous, best effort) and exits
 * with 128 + the signal's number (130, 143, 129), as a shell reports a process the signal killed. Release removes the
 * handlers, so none stays installed once the command is done; call it in a `finally`.
 *
 * @example
 * const release = cleanUpOnSignals(() => rmSync(spool, { recursive: true, force: true }));
 * try { await work(); } finally { release(); }
 */
export function cleanUpOnSignals(cleanup: () => void): () => void {
  const handlers = INTERRUPTS.map((signal) => {
    const handler = () => {
      try {
        cleanup();
      } finally {
        process.exit(128 + constants.signals[signal]);
      }
    };
    process.on(signal, handler);
    return { signal, handler };
  });
  return () => {
    for (const { signal, handler } of handlers) process.off(signal, handler);
  };
}
