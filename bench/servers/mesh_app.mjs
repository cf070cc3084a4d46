// Child process: the local app behind the sidecars: plain HTTP on loopback answering every request with a small
// JSON body. Prints { port } once listening; stops on SIGTERM.
import { createServer } from 'node:http';

const body = JSON.stringify({ ok: true, service: 'backend' });
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGTERM', () => process.exit(0));
