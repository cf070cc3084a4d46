// Child process: an informational anchor of the handshake benchmark, plain Node doing the protocol work that
// gatehouse's mTLS server cannot skip: `https.createServer` (node:http parses the request and writes the answer)
// with the same TLS settings as the bare `tls.createServer` anchor (TLS 1.3, the SVID chain and key, the CA bundle as
// the only trust anchors, client certificates required and verified by OpenSSL), and reading the client's certificate
// (`getPeerCertificate()`, which a server must do to learn who the peer is). No SPIFFE rules, policy or deny list.
// argv[2] = JSON { chainPem, keyPem, bundlePem }. Prints { port } once listening; stops on SIGTERM.
import { createServer } from 'node:https';

const { chainPem, keyPem, bundlePem } = JSON.parse(process.argv[2]);
const server = createServer(
  { cert: chainPem, key: keyPem, ca: bundlePem, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: true },
  (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  },
);
server.on('secureConnection', (socket) => {
  if (!socket.authorized || !socket.getPeerCertificate().raw) socket.destroy();
});
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () =>
  process.stdout.write(JSON.stringify({ port: server.address().port, pid: process.pid }) + '\n'),
);
process.on('SIGTERM', () => process.exit(0));
