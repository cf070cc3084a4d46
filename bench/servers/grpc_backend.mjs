// Child process: the fast gRPC upstream of the gateway_grpc benchmark. A bare node:http2 server on 127.0.0.1:0 in
// cleartext (h2c, prior knowledge) that answers every call as a unary gRPC method would: status 200,
// `content-type: application/grpc`, the request's message echoed back, then trailers `grpc-status: 0`. Not a gRPC
// framework (grpc-js costs more per call than the proxies measured in front of it). Prints { port }; stops on SIGTERM.
import { createServer } from 'node:http2';

const server = createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream) => {
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('error', () => {});
  stream.on('end', () => {
    if (stream.destroyed) return; // cancelled by the proxy (its client stopped mid-run)
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.concat(chunks));
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
