import type { IncomingHttpHeaders } from 'node:http';
import { Client, type Dispatcher } from 'undici';
import { Http2Origin } from '../mesh/index.js';
import type { CheckAnswer, CheckDispatcher, CheckedHost, CheckRequest } from './health_check.js';

/** The most of a check's answer body read (the rest is discarded). */
const BODY_LIMIT = 65_536;

/**
 * The hosts of an upstream as the checker sees them: each opens a one-connection dispatcher made like the traffic's
 * connections: an undici Client for `http/1.1` (`connect`: the mesh connector or the caFile's trust anchors), an
 * HTTP/2 connection for `h2c` and `h2` (`ca`: the caFile's trust anchors), with `timeout` to connect.
 *
 * @example
 * const hosts = checkClients(config.hosts, config.healthCheck.timeout, { connect: { ca } }, { http2: false });
 */
export function checkClients(
  origins: readonly string[],
  timeout: number,
  connect: Pick<Client.Options, 'connect'>,
  options: { http2: boolean; ca?: string },
): CheckedHost[] {
  return origins.map((origin) => ({
    origin,
    open: () =>
      options.http2
        ? http2Checks(
            new Http2Origin(origin, {
              connectTimeout: timeout,
              idleTimeout: 4_000,
              ...(options.ca === undefined ? {} : { ca: options.ca }),
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
      const answer = await client.request({
        method: r.method,
        path: r.path,
        headers: r.headers,
        body: r.body,
        headersTimeout: r.timeoutMs,
        bodyTimeout: r.timeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        if (size < BODY_LIMIT) chunks.push(chunk);
        size += chunk.length;
      }
      return {
        status: answer.statusCode,
        body: Buffer.concat(chunks).subarray(0, BODY_LIMIT),
        trailers: answer.trailers,
      };
    },
    destroy: () => client.destroy(),
  };
}

function http2Checks(origin: Http2Origin): CheckDispatcher {
  return {
    send: (r: CheckRequest) =>
      new Promise<CheckAnswer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let status = 0;
        const handler: Dispatcher.DispatchHandler = {
          onResponseStart: (_c, statusCode) => void (status = statusCode),
          onResponseData: (_c, chunk: Buffer) => {
            if (size < BODY_LIMIT) chunks.push(chunk);
            size += chunk.length;
          },
          onResponseEnd: (_c, trailers?: IncomingHttpHeaders) =>
            resolve({ status, body: Buffer.concat(chunks).subarray(0, BODY_LIMIT), trailers: trailers ?? {} }),
          onResponseError: (_c, err) => reject(err),
        };
        origin.dispatch(
          {
            method: r.method,
            path: r.path,
            headers: r.headers,
            body: r.body,
            headersTimeout: r.timeoutMs,
            bodyTimeout: r.timeoutMs,
          },
          handler,
        );
      }),
    destroy: () => origin.close(),
  };
}
