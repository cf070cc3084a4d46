// Child process: the fast backend every proxy of the gateway benchmarks forwards to. Plain node:http on 127.0.0.1:0,
// keep-alive, a small fixed JSON body. Prints { port } once listening; stops on SIGTERM.
import { createServer } from 'node:http';

const body = Buffer.from(JSON.stringify({ ok: true, service: 'bench-backend' }));
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
