import { Dispatcher, type Agent } from 'undici';
import type { IdentitySource } from './identity_source.js';

/**
 * An undici dispatcher whose requests go to an Agent made with the current SVID: on each renewal a new Agent takes
 * the new requests and the old one finishes those in flight, then closes. No request leaves on a connection made with
 * an older certificate (a kept-alive connection busy all the time would otherwise carry it until the peer refuses it
 * as expired). What `createMtlsAgent` returns.
 *
 * @example
 * const agent = new MtlsAgent(identity, () => new Agent({ connect: mtlsConnector({ identity, checker, expected }) }));
 * await request('https://10.0.0.12:8443/charge', { dispatcher: agent });
 */
export class MtlsAgent extends Dispatcher {
  private current: Agent;
  private readonly retiring = new Set<Promise<void>>();
  private readonly unsubscribe: () => void;

  constructor(identity: IdentitySource, make: () => Agent) {
    super();
    this.current = make();
    this.unsubscribe = identity.onChange(() => {
      const old = this.current;
      this.current = make();
      const closing = old.close().catch(() => {});
      this.retiring.add(closing);
      void closing.finally(() => this.retiring.delete(closing));
    });
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.current.dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.unsubscribe();
    const closed = Promise.all([this.current.close(), ...this.retiring]).then(() => undefined);
    if (callback === undefined) return closed;
    void closed.then(callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(first?: Error | null | (() => void), second?: () => void): Promise<void> | void {
    this.unsubscribe();
    const err = typeof first === 'function' ? null : (first ?? null);
    const callback = typeof first === 'function' ? first : second;
    const destroyed = this.current.destroy(err).then(() => Promise.all([...this.retiring]).then(() => undefined));
    if (callback === undefined) return destroyed;
    void destroyed.then(callback);
  }
}
