// Child process: the ceiling of issue 7, a bare node:https (TLS 1.3 only) + undici Pool proxy that does nothing else:
// every request is streamed to the backend with Pool.stream straight into the ServerResponse, hop-by-hop headers
// dropped. Input { certPem, keyPem, backend }. Prints { port }; stops on SIGTERM.
import { createServer } from 'node:https';
import { Pool } from 'undici';

const { certPem, keyPem, backend } = JSON.parse(process.argv[2]);
const pool = new Pool(backend, { connections: 64, pipelining: 1 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

function forwardHeaders(raw) {
  const out = {};
  for (const [k, v] of Object.entries(raw)) if (!HOP.has(k) && k !== 'host') out[k] = v;
  return out;
}

const server = createServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.3' }, (req, res) => {
  pool
    .stream(
      {
        path: req.url,
        method: req.method,
        headers: forwardHeaders(req.headers),
        body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, forwardHeaders(headers));
        return res;
      },
    )
    .catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.on('SIGTERM', async () => {
  server.closeAllConnections();
  server.close();
  await pool.close();
  process.exit(0);
});
