import type { Logger } from '../core/index.js';

/**
 * What a starting process must undo, newest first: each step pushes its own close as soon as it has something to
 * close, and one unwind (on a failed start or on stop) runs them all once; a failing cleanup is logged and the others
 * still run. Used by `gatehouse up` and the components started alone.
 *
 * @example
 * const cleanups = new Cleanups(logger);
 * cleanups.push(() => core.close());
 * await cleanups.unwind(); // later calls return the same promise
 */
export class Cleanups {
  private readonly stack: Array<() => Promise<void> | void> = [];
  private unwinding: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  push(cleanup: () => Promise<void> | void): void {
    this.stack.push(cleanup);
  }

  unwind(): Promise<void> {
    return (this.unwinding ??= this.run());
  }

  private async run(): Promise<void> {
    for (let cleanup = this.stack.pop(); cleanup !== undefined; cleanup = this.stack.pop()) {
      try {
        await cleanup();
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'cleanup failed');
      }
    }
  }
}
