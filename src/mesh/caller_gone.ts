import type { ServerResponse } from 'node:http';
import { CallerGoneError } from './answer_exchange.js';

/** A signal for a next hop's request that fires once the caller leaves; `stop()` once it no longer applies. */
export interface CallerGoneSignal {
  signal: AbortSignal;
  stop(): void;
}

/**
 * Aborts a next hop's request once the caller leaves (its response closed before it was ended), for undici's
 * `request()`, which otherwise waits for the answer or its timeout: the next hop's request is reset at once, mid-body
 * or while it thinks. Stop it once the answer's head arrived (`relayBody` then destroys the answer's body when
 * the caller leaves).
 *
 * @example
 * const gone = abortWhenCallerLeaves(res);
 * try { const answer = await pool.request({ ..., signal: gone.signal }); } finally { gone.stop(); }
 */
export function abortWhenCallerLeaves(res: ServerResponse): CallerGoneSignal {
  const controller = new AbortController();
  const left = () => {
    if (!res.writableEnded) controller.abort(new CallerGoneError());
  };
  res.once('close', left);
  return { signal: controller.signal, stop: () => res.off('close', left) };
}
