import type { Logger } from '../core/index.js';

/** One access-log line (snake_case fields; never a credential). */
export interface AccessEntry {
  request_id: string;
  route: string;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  client_ip: string;
  /** From handing the request to the upstream to the end of its answer (nginx's `$upstream_response_time`, in ms). */
  upstream_ms?: number;
  /** The client's User-Agent, at most 256 characters. */
  user_agent?: string;
  sub?: string;
  client_id?: string;
  /** `2.0` on an HTTP/2 request (absent on HTTP/1.1). */
  http_version?: '2.0';
  /** A gRPC call's status: the gateway's refusal or the upstream's `grpc-status` trailer (the HTTP status is 200). */
  grpc_status?: number;
}

/**
 * Structured access logs written off the request path: entries are buffered and handed to the logger in a
 * `setImmediate` batch. Bounded: past `maxBuffered` waiting lines new ones are dropped and counted.
 *
 * @example
 * const log = new AccessLog(logger.child({ log: 'access' }));
 * log.write({ request_id, route: 'demo', method: 'GET', path: '/demo/', status: 200, duration_ms: 1.2, client_ip });
 */
export class AccessLog {
  private buffer: AccessEntry[] = [];
  private scheduled = false;
  dropped = 0;

  constructor(
    private readonly logger: Logger,
    private readonly maxBuffered = 10_000,
  ) {}

  write(entry: AccessEntry): void {
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
