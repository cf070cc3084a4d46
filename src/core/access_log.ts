import type { Logger } from './logger.js';

/**
 * Structured access logs (the gateway's and the sidecar's) written off the request path: entries are buffered and handed to the logger in a
 * `setImmediate` batch. Bounded: past `maxBuffered` waiting lines new ones are dropped and counted.
 *
 * @example
 * const log = new AccessLog<AccessEntry>(logger.child({ log: 'access' }));
 * log.write({ request_id, route: 'demo', method: 'GET', path: '/demo/', status: 200, duration_ms: 1.2, client_ip });
 */
export class AccessLog<Entry extends object> {
  private buffer: Entry[] = [];
  private scheduled = false;
  dropped = 0;

  constructor(
    private readonly logger: Logger,
    private readonly maxBuffered = 10_000,
  ) {}

  write(entry: Entry): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.dropped += 1;
      return;
    }
    this.buffer.push(entry);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes every buffered line now. */
  flush(): void {
    this.scheduled = false;
    const lines = this.buffer;
    this.buffer = [];
    for (const line of lines) this.logger.info(line, 'access');
  }
}
