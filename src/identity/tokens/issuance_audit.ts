import type { Logger } from '../../core/index.js';

/** One issuance, as the audit stream records it (never the token itself). */
export interface IssuanceEvent {
  grantType: string;
  clientId: string;
  subject: string;
  audience: string;
  scope: string;
  jti: string;
  kid: string;
  expiresAt: number;
  address: string;
}

const MAX_QUEUED = 10_000;
const BATCH = 500;

/**
 * The asynchronous audit stream of token issuance: the token endpoint only pushes onto a bounded in-memory queue;
 * a drain scheduled with setImmediate writes the events to the audit logger off the request's path. When the queue is
 * full, events are counted as dropped (and the count is logged) instead of slowing issuance down.
 *
 * @example
 * const audit = new IssuanceAudit(logger.child({ audit: true }));
 * audit.record({ grantType: 'client_credentials', clientId, subject, audience, scope, jti, kid, expiresAt, address });
 */
export class IssuanceAudit {
  private queue: IssuanceEvent[] = [];
  private scheduled = false;
  private dropped = 0;

  constructor(private readonly logger: Logger) {}

  record(event: IssuanceEvent): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.dropped++;
    } else {
      this.queue.push(event);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Writes everything queued now (also called on shutdown). */
  flush(): void {
    while (this.queue.length > 0) this.drainBatch();
    if (this.dropped > 0) {
      this.logger.warn({ dropped: this.dropped }, 'token issuance audit events dropped (queue full)');
      this.dropped = 0;
    }
  }

  private drain(): void {
    this.scheduled = false;
    this.drainBatch();
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    } else if (this.dropped > 0) {
      this.flush();
    }
  }

  private drainBatch(): void {
    const batch = this.queue.splice(0, BATCH);
    for (const event of batch) this.logger.info({ event: 'token.issued', ...event }, 'access token issued');
  }
}
