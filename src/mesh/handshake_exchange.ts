import type { ServerResponse } from 'node:http';
import type { Pool } from 'undici';
import { AnswerExchange, CallerGoneError, type ExchangeOutcome } from './answer_exchange.js';

/**
 * Sends a WebSocket handshake (a GET without a body) to the next hop over `pool` with `Connection: upgrade` and
 * `Upgrade: websocket` (undici adds both; `headers` must hold no hop-by-hop field), `timeoutMs` for its answer.
 * Never rejects: a failure is an outcome. A 101 hands over the next hop's connection; any other answer is relayed
 * into `res` ({@link AnswerExchange}).
 *
 * @example
 * const outcome = await forwardHandshake(pool, { path: '/chat', headers, timeoutMs: 15_000 }, res);
 * if ('socket' in outcome) tunnels.open('outbound', req.socket, outcome.socket, 60_000);
 */
export function forwardHandshake(
  pool: Pool,
  request: { path: string; headers: Record<string, string | string[]>; timeoutMs: number },
  res: ServerResponse,
): Promise<ExchangeOutcome> {
  return new Promise((resolve) => {
    if (res.destroyed) {
      resolve({ error: new CallerGoneError(), clientGone: true });
      return;
    }
    pool.dispatch(
      {
        path: request.path,
        method: 'GET',
        headers: request.headers,
        body: null,
        upgrade: 'websocket',
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      },
      new AnswerExchange(res, resolve),
    );
  });
}
