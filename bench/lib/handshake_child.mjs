// Handshake load, in its own process: keeps `inFlight` fresh TLS 1.3 connections (no session reuse) open at a time
// for `seconds`, each presenting the client certificate (the server's chain is not verified here), sending one
// `GET /` with `Connection: close` and reading the answer; counts the completed exchanges (a handshake the server
// refused after verifying the client certificate does not count: it ends with an error, counted apart).
// argv[2] = JSON { port, ca, cert, key, inFlight, seconds }; prints one JSON line { okPerSec, ok, errors }.
import { performance } from 'node:perf_hooks';
import { connect, createSecureContext } from 'node:tls';

const spec = JSON.parse(process.argv[2]);
// One context for the whole run: the client's key and trust store are parsed once, not per connection.
const secureContext = createSecureContext({ cert: spec.cert, key: spec.key, minVersion: 'TLSv1.3' });
const request = 'GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n';
const deadline = performance.now() + spec.seconds * 1000;
let ok = 0;
let errors = 0;

function once() {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port: spec.port,
      secureContext,
      // The server is measured, not the client: the load does not verify the server's chain (the same SVID chain on
      // every target), which keeps the load process cheaper than the servers it drives on a small machine.
      rejectUnauthorized: false,
    });
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => socket.write(request));
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (answer.startsWith('HTTP/1.1 200')) ok++;
      else errors++;
      resolve();
    });
  });
}

async function worker() {
  while (performance.now() < deadline) await once();
}

const start = performance.now();
await Promise.all(Array.from({ length: spec.inFlight }, worker));
const seconds = (performance.now() - start) / 1000;
process.stdout.write(JSON.stringify({ okPerSec: ok / seconds, ok, errors }) + '\n');
