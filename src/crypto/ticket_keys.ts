import { randomFillSync } from 'node:crypto';
import { GatehouseError } from '../core/index.js';

/** Node's session ticket keys are exactly 48 bytes (16 name + 16 HMAC + 16 AES). */
export const TICKET_KEYS_BYTES = 48;

/** A server whose current context takes new ticket keys (`tls.Server` / `https.Server#setTicketKeys`). */
export interface TicketKeyHolder {
  setTicketKeys(keys: Buffer): void;
}

/**
 * The TLS session ticket keys of a process's listeners. `bytes` is one 48-byte buffer passed to every
 * `setSecureContext` (so resumption survives a certificate swap); `rotate` refills it in place and hands the new keys
 * to every attached server, so both the running contexts and the contexts of later swaps encrypt tickets under the
 * new keys (Envoy's advice: rotate at least daily, preferably hourly). Tickets issued under the old keys are no longer
 * resumed: the next connection makes a full handshake.
 *
 * @example
 * const keys = new SessionTicketKeys();
 * const server = https.createServer(serverTlsOptions({ cert, key, ticketKeys: keys.bytes }), handler);
 * const detach = keys.attach(server);
 * keys.start(3_600_000);
 */
export class SessionTicketKeys {
  /** The current keys: the same Buffer for the life of the object, its content replaced by {@link rotate}. */
  readonly bytes: Buffer = randomFillSync(Buffer.alloc(TICKET_KEYS_BYTES));
  private readonly holders = new Set<TicketKeyHolder>();
  private timer: NodeJS.Timeout | undefined;

  /** Hands every later rotation to `server`; returns the function that stops doing so. */
  attach(server: TicketKeyHolder): () => void {
    this.holders.add(server);
    return () => this.holders.delete(server);
  }

  /** Replaces the keys now, in the buffer and in every attached server. */
  rotate(): void {
    randomFillSync(this.bytes);
    for (const holder of this.holders) holder.setTicketKeys(this.bytes);
  }

  /** Rotates every `everyMs` until {@link stop} (the timer does not keep the process alive). */
  start(everyMs: number): void {
    if (!Number.isInteger(everyMs) || everyMs < 1000) {
      throw new GatehouseError('ERR_TLS_CONFIG', { detail: 'ticket key rotation must be at least 1 s' });
    }
    this.stop();
    this.timer = setInterval(() => this.rotate(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
