import type { ServerResponse } from 'node:http';
import { bearerChallenge } from '../challenge.js';

/** The part of a node:http (or express) response the plugins write to. */
export type ResponseLike = Pick<ServerResponse, 'statusCode' | 'setHeader' | 'end'> & { headersSent?: boolean };

/**
 * Writes the RFC 6750 answer for `err` on a node:http-style response.
 *
 * @example
 * sendChallenge(res, err, verifier.realm);
 */
export function sendChallenge(res: ResponseLike, err: unknown, realm: string): void {
  if (res.headersSent === true) return;
  const challenge = bearerChallenge(err, realm);
  res.statusCode = challenge.status;
  for (const [name, value] of Object.entries(challenge.headers)) res.setHeader(name, value);
  res.end(JSON.stringify(challenge.body));
}
