import type { IncomingHttpHeaders } from 'node:http';
import { Client, type Dispatcher } from 'undici';
import { Http2Origin, type Http2OriginOptions } from '../mesh/index.js';
import type { CheckAnswer, CheckDispatcher, CheckedHost, CheckRequest } from './health_check.js';

/** The most of a check's answer body read (the rest is discarded). */
const BODY_LIMIT = 65_536;

/**
 * The hosts of an upstream as the checker sees them: each opens a one-connection dispatcher made like the traffic's
 * connections: an undici Client for `http/1.1` (`connect`: the mesh connector or the caFile's trust anchors), an
 * HTTP/2 connection for `h2c` and `h2` (`http2Connect`: the mesh connector offering ALPN h2, or the caFile's trust
 * anchors), with `timeout` to connect.
 *
 * @example
 * const hosts = checkClients(config.hosts, config.healthCheck.timeout, { connect: { ca } }, { http2: false });
 */
export function checkClients(
  origins: readonly string[],
  timeout: number,
  connect: Pick<Client.Options, 'connect'>,
  options: { http2: boolean; http2Connect?: (origin: string) => Partial<Http2OriginOptions> },
): CheckedHost[] {
  return origins.map((origin) => ({
    origin,
    open: () =>
      options.http2
        ? http2Checks(
            new Http2Origin(origin, {
              connectTimeout: timeout,
              idleTimeout: 4_000,
              ...options.http2Connect?.(origin),
            }),
          )
        : http1Checks(
            new Client(origin, { pipelining: 1, keepAliveTimeout: 4_000, connectTimeout: timeout, ...connect }),
          ),
  }));
}

function http1Checks(client: Client): CheckDispatcher {
  return {
    async send(r: CheckRequest): Promise<CheckAnswer> {
      const answer = await client.request(dispatchOptions(r));
      const body = new BodySample();
      for await (const chunk of answer.body as AsyncIterable<Buffer>) body.add(chunk);
      return { status: answer.statusCode, body: body.bytes(), trailers: answer.trailers };
    },
    destroy: () => client.destroy(),
  };
}

function http2Checks(origin: Http2Origin): CheckDispatcher {
  return {
    send: (r: CheckRequest) =>
      new Promise<CheckAnswer>((resolve, reject) => {
        const body = new BodySample();
        let status = 0;
        origin.dispatch(dispatchOptions(r), {
          onResponseStart: (_c, statusCode) => void (status = statusCode),
          onResponseData: (_c, chunk: Buffer) => body.add(chunk),
          onResponseEnd: (_c, trailers?: IncomingHttpHeaders) =>
            resolve({ status, body: body.bytes(), trailers: trailers ?? {} }),
          onResponseError: (_c, err) => reject(err),
        });
      }),
    destroy: () => origin.close(),
    retire: () => origin.retire(),
  };
}

/** A check request as undici's (and Http2Origin's) dispatch options, its timeout for the head and between chunks. */
function dispatchOptions(r: CheckRequest): Dispatcher.DispatchOptions & { method: CheckRequest['method'] } {
  return {
    method: r.method,
    path: r.path,
    headers: r.headers,
    body: r.body,
    headersTimeout: r.timeoutMs,
    bodyTimeout: r.timeoutMs,
  };
}

/** The first {@link BODY_LIMIT} bytes of an answer's body (the rest is read and dropped). */
class BodySample {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  add(chunk: Buffer): void {
    if (this.size < BODY_LIMIT) this.chunks.push(chunk);
    this.size += chunk.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks).subarray(0, BODY_LIMIT);
  }
}
