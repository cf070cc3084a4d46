// Child process: the bare Node anchor of the handshake benchmark: `tls.createServer` with TLS 1.3, the SVID chain and
// key, the CA bundle as the only trust anchors and client certificates required and verified by OpenSSL
// (requestCert + rejectUnauthorized). Answers the one request of a connection with a fixed 200 and closes.
// argv[2] = JSON { chainPem, keyPem, bundlePem }. Prints { port } once listening; stops on SIGTERM.
import { createServer } from 'node:tls';

const { chainPem, keyPem, bundlePem } = JSON.parse(process.argv[2]);
const answer = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok';
const server = createServer(
  { cert: chainPem, key: keyPem, ca: bundlePem, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: true },
  (socket) => {
    if (!socket.authorized) return socket.destroy();
    socket.on('error', () => socket.destroy());
    socket.once('data', () => socket.end(answer));
  },
);
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () =>
  process.stdout.write(JSON.stringify({ port: server.address().port, pid: process.pid }) + '\n'),
);
process.on('SIGTERM', () => process.exit(0));
