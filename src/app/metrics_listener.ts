import { createServer } from 'node:http';

/** Prometheus text exposition (version 0.0.4), what prom-client's registry answers too. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A plain-HTTP `/metrics` listener on 127.0.0.1. */
export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` on `127.0.0.1:port` (plain HTTP, loopback only, as Envoy's admin port; `0` = any free port) for
 * the processes run alone (`gatehouse gateway|sidecar|identity|kms|ca --metrics-port P`; a query string is ignored);
 * anything else is 404. A failing exposition is
 * a 500 without details.
 *
 * @example
 * const metrics = await listenMetrics(9445, () => caMetricsText(authority.status()));
 */
export async function listenMetrics(
  port: number,
  exposition: () => string | Promise<string>,
  contentType: () => string = () => EXPOSITION_CONTENT_TYPE,
): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return void res.writeHead(404).end();
    Promise.resolve()
      .then(exposition)
      .then(
        (text) => res.writeHead(200, { 'content-type': contentType() }).end(req.method === 'HEAD' ? '' : text),
        () => res.writeHead(500).end(),
      )
      .catch(() => res.destroy()); // a failure after the answer started: never an unhandled rejection
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
