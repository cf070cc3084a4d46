import type { Dispatcher } from 'undici';
import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import type { DenyList } from './deny_list.js';
import { fetchJson } from './http_client.js';

/** Options of {@link RevocationFeed}. */
export interface RevocationFeedOptions {
  /** `<issuer>/revocations` unless given. */
  url: string;
  dispatcher: Dispatcher;
  /** The bearer credential for the feed, asked for on every poll (so it can rotate). */
  credentials: () => Promise<string>;
  intervalMs: number;
  timeoutMs: number;
  maxBytes: number;
}

interface FeedItem {
  jti?: unknown;
  key_id?: unknown;
  exp?: unknown;
}

/**
 * Polls the issuer's revocation feed (`GET <url>?since=<cursor>` with `Authorization: Bearer …`, answering
 * `{"items":[{"jti"|"key_id", "exp"}], "cursor"}`) every `intervalMs` and adds what it reads to the deny list. The
 * staleness of revocation is therefore at most `intervalMs + timeoutMs` while the feed answers.
 *
 * @example
 * const feed = new RevocationFeed(options, deny, clock, logger);
 * await feed.start();
 */
export class RevocationFeed {
  private cursor: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private running: Promise<void> | undefined;
  /** Clock time (ms) of the last successful poll; 0 before the first. */
  lastSuccessAt = 0;

  constructor(
    private readonly options: RevocationFeedOptions,
    private readonly deny: DenyList,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Polls once (awaited, so the verifier starts with a loaded list) and then keeps polling in the background. */
  async start(options: { requireFeed?: boolean } = {}): Promise<void> {
    // With requireFeed a failed first poll rejects (the caller closes this feed); otherwise it is reported.
    if (options.requireFeed === true) await this.pollOnce();
    else await this.pollOnce().catch((err: unknown) => this.report(err));
    this.schedule();
  }

  /** Stops polling; waits for a poll in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }

  /** One poll: reads every page the feed has (bounded to 100 pages) and advances the cursor. */
  async pollOnce(): Promise<void> {
    for (let page = 0; page < 100; page += 1) {
      const url = new URL(this.options.url);
      if (this.cursor !== undefined) url.searchParams.set('since', this.cursor);
      const token = await this.options.credentials();
      const res = await fetchJson(this.options.dispatcher, url.toString(), {
        headers: { authorization: `Bearer ${token}` },
        timeoutMs: this.options.timeoutMs,
        maxBytes: this.options.maxBytes,
      });
      const body = res.json as { items?: unknown; cursor?: unknown } | undefined;
      if (res.status !== 200 || !Array.isArray(body?.items) || typeof body.cursor !== 'string') {
        throw new GatehouseError('ERR_VERIFIER_UNAVAILABLE', { detail: `revocation feed answered ${res.status}` });
      }
      const now = this.clock.now();
      for (const item of body.items as FeedItem[]) {
        if (item === null || typeof item !== 'object' || typeof item.exp !== 'number') continue;
        if (typeof item.jti === 'string') this.deny.add('jti', item.jti, item.exp * 1000, now);
        else if (typeof item.key_id === 'string') this.deny.add('key_id', item.key_id, item.exp * 1000, now);
      }
      const advanced = body.cursor !== this.cursor;
      this.cursor = body.cursor;
      if (body.items.length === 0 || !advanced) break;
    }
    this.lastSuccessAt = this.clock.now();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = this.pollOnce()
        .catch((err: unknown) => this.report(err))
        .finally(() => this.schedule());
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private report(err: unknown): void {
    const detail = err instanceof GatehouseError ? err.detail : (err as Error).message;
    this.logger.warn({ event: 'revocation_poll_failed', detail }, 'revocation feed poll failed');
  }
}
