// Child process: one half of the bare Node TLS proxy pair, doing nothing but forwarding. `inbound`: node:https
// (TLS 1.3, client certificates required and verified by OpenSSL) forwarding to the app over keep-alive HTTP.
// `outbound`: node:http on loopback forwarding to the inbound proxy with undici (keep-alive, client certificate, the
// server chain verified against the bundle). argv[2] = JSON { role, chainPem, keyPem, bundlePem, target }
// (target: `host:port`). Prints { port } once listening; stops on SIGTERM.
import { Agent, createServer as createHttpServer, request } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Pool } from 'undici';

const { role, chainPem, keyPem, bundlePem, target } = JSON.parse(process.argv[2]);
const [host, port] = target.split(':');

function inbound() {
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  return createHttpsServer(
    { cert: chainPem, key: keyPem, ca: bundlePem, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const up = request({ host, port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    },
  );
}

function outbound() {
  const pool = new Pool(`https://${target}`, {
    connections: 32,
    connect: {
      ca: bundlePem,
      cert: chainPem,
      key: keyPem,
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
    },
  });
  return createHttpServer(async (req, res) => {
    try {
      const { host: _host, connection: _connection, ...headers } = req.headers;
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : req;
      const answer = await pool.request({ path: req.url, method: req.method, headers, body });
      res.writeHead(answer.statusCode, answer.headers);
      for await (const chunk of answer.body) res.write(chunk);
      res.end();
    } catch {
      res.destroy();
    }
  });
}

const server = role === 'inbound' ? inbound() : outbound();
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGTERM', () => process.exit(0));
