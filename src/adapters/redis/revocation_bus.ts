import type { Redis } from 'ioredis';
import type { Logger } from '../../core/index.js';
import { isRevocationItem, type IdentityRevocationItem, type RevocationBus } from '../../identity/index.js';

/** How long `subscribe` waits for Redis before it returns with the subscription still pending. */
const SUBSCRIBE_WAIT_MS = 5000;

/** Options of {@link RedisRevocationBus}. */
export interface RedisRevocationBusOptions {
  /** An ioredis 5 client for publishing; each subscription opens its own connection with `duplicate()`. */
  redis: Redis;
  /** The channel is `<keyPrefix>revocations` (config `redis.keyPrefix`). */
  keyPrefix: string;
  logger: Logger;
  /**
   * How long `subscribe` waits for Redis before it returns with the subscription pending (default 5 s); 0 when this
   * start already waited for the same Redis in vain (the identity limiter), so that a start without Redis waits once.
   */
  subscribeWaitMs?: number;
}

/**
 * Revocation fan-out over Redis pub/sub: `publish` sends one JSON item (`{"jti"|"key_id","exp"}`, never a token) on
 * `<keyPrefix>revocations`; `subscribe` listens on a dedicated connection and hands every well-formed item to the
 * callback (malformed messages are dropped and logged). Best effort by nature: the stored revocation list and the feed
 * stay the source of truth. Its `subscribe` also fits the verifier's `revocation.subscribe` port (src/resource); it
 * resolves once subscribed, or after 5 s without Redis (`subscribeWaitMs`; the subscription then completes whenever
 * Redis is back).
 *
 * @example
 * const bus = new RedisRevocationBus({ redis, keyPrefix: 'gatehouse:', logger });
 * const stop = await bus.subscribe((item) => deny(item));
 * await bus.publish({ jti: 'a1b2', exp: 1767225600 });
 */
export class RedisRevocationBus implements RevocationBus {
  readonly channel: string;

  constructor(private readonly options: RedisRevocationBusOptions) {
    this.channel = `${options.keyPrefix}revocations`;
  }

  async publish(item: IdentityRevocationItem): Promise<void> {
    const message = JSON.stringify(
      item.jti !== undefined ? { jti: item.jti, exp: item.exp } : { key_id: item.key_id, exp: item.exp },
    );
    await this.options.redis.publish(this.channel, message);
  }

  async subscribe(onItem: (item: IdentityRevocationItem) => void): Promise<() => Promise<void>> {
    // The subscriber connection queues its SUBSCRIBE until it is connected (the publishing client may fail fast
    // while disconnected) and subscribes again after every reconnection.
    const connection = this.options.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    connection.on('error', (err: Error) =>
      this.options.logger.debug({ event: 'revocation_bus_error', reason: err.message }, 'redis error'),
    );
    connection.on('message', (channel: string, message: string) => {
      if (channel !== this.channel || message.length > 2048) return;
      let item: unknown;
      try {
        item = JSON.parse(message);
      } catch {
        item = undefined;
      }
      if (!isRevocationItem(item)) {
        this.options.logger.warn({ event: 'revocation_bus_malformed' }, 'malformed revocation message dropped');
        return;
      }
      onItem(item);
    });
    const subscribed = connection.subscribe(this.channel).then(() => true);
    const waitMs = this.options.subscribeWaitMs ?? SUBSCRIBE_WAIT_MS;
    let timer: NodeJS.Timeout | undefined;
    const waited =
      waitMs > 0 &&
      (await Promise.race([
        subscribed,
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), waitMs);
        }),
      ]).finally(() => clearTimeout(timer)));
    if (!waited) {
      subscribed.catch(() => undefined);
      this.options.logger.warn(
        { event: 'revocation_bus_pending', channel: this.channel, waitedMs: waitMs },
        'Redis not reachable yet: revocations from other replicas arrive through the store until it is',
      );
    }
    return async () => {
      await connection.quit().catch(() => connection.disconnect());
    };
  }
}
