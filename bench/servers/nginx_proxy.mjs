// Child process: the nginx anchor of issue 7. Writes a private nginx.conf into a temp dir (TLS 1.3 only, one worker
// like the single-threaded node proxies, keepalive connections to the upstream, no access log), starts
// `nginx -g 'daemon off;'` on a free loopback port, prints { port, version } once it accepts connections, and on
// SIGTERM stops nginx (SIGQUIT) and removes the temp dir. Input { certPem, keyPem, backend, limit? }: with
// limit { rate, burst } (requests per second), limit_req keyed by the Authorization header (one key per bearer
// token, as the gateway limits per client) with `burst=<burst> nodelay` and 429 for refusals: issue 7's reference line.
// With http2: true the listener offers HTTP/2 as well (`listen ... ssl http2`); with grpc: true it does, and passes
// every request to `backend` as gRPC over h2c (`grpc_pass grpc://`, keepalive connections).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout, clearTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';

const { certPem, keyPem, backend, limit, http2, grpc } = JSON.parse(process.argv[2]);
const bin = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find(
  (p) => spawnSync(p, ['-v']).status === 0,
);
if (!bin) throw new Error('nginx not found (apt-get install -y nginx)');
// `nginx -v` prints to stderr: "nginx version: nginx/1.22.1".
const version = spawnSync(bin, ['-v'], { encoding: 'utf8' })
  .stderr.trim()
  .replace(/^nginx version: /, '');

async function freePort() {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

const dir = mkdtempSync(join(tmpdir(), 'gh-bench-nginx-'));
const port = await freePort();
const upstream = new URL(backend);
writeFileSync(join(dir, 'cert.pem'), certPem);
writeFileSync(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
writeFileSync(
  join(dir, 'nginx.conf'),
  `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
${limit ? `  limit_req_zone $http_authorization zone=perclient:10m rate=${limit.rate}r/s;\n  limit_req_status 429;\n` : ''}  upstream backend {
    server ${upstream.hostname}:${upstream.port};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port} ssl${http2 || grpc ? ' http2' : ''};
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    ssl_protocols TLSv1.3;
    location / {
${limit ? `      limit_req zone=perclient burst=${limit.burst} nodelay;\n` : ''}${
    grpc
      ? '      grpc_pass grpc://backend;'
      : '      proxy_pass http://backend;\n      proxy_http_version 1.1;\n      proxy_set_header Connection "";'
  }
    }
  }
}
`,
);
const nginx = spawn(bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'inherit' });
let stopping = false;
nginx.on('exit', (code) => {
  if (!stopping) {
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`nginx exited with ${code}\n`);
    process.exit(1);
  }
});
for (let i = 0; ; i++) {
  const ok = await new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve(s.end() && true));
    s.on('error', () => resolve(false));
  });
  if (ok) break;
  if (i > 100) throw new Error('nginx did not start listening');
  await sleep(50);
}
process.stdout.write(JSON.stringify({ port, version }) + '\n');
process.on('SIGTERM', async () => {
  stopping = true;
  nginx.kill('SIGQUIT');
  const t = setTimeout(() => nginx.kill('SIGKILL'), 5000);
  await once(nginx, 'exit');
  clearTimeout(t);
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
