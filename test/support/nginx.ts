import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

/** A port that was free a moment ago on 127.0.0.1 (nginx needs the number in its config). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** A running private nginx. */
export interface RunningNginx {
  /** Its prefix directory: files given to {@link startNginx} are here. */
  dir: string;
  /** The error log so far. */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Debian's nginx (/usr/sbin/nginx) as a child process with a private prefix in a temp dir: `daemon off`,
 * `master_process off`, pid file, temp paths and error log (level info) all in that dir, so it touches nothing of a
 * system nginx. `http` is the body of the http block, `files` are written to the dir first (names relative to it).
 * Resolves once every port in `ports` accepts connections.
 *
 * @example
 * const nginx = await startNginx({ ports: [port], files: { 'key.pem': keyPem }, http: (dir) => `server { ... }` });
 */
export async function startNginx(o: {
  ports: number[];
  files: Record<string, string>;
  http: (dir: string) => string;
}): Promise<RunningNginx> {
  const tmp = tempDir('gh-nginx-');
  const dir = tmp.dir;
  for (const [name, content] of Object.entries(o.files)) writeFileSync(join(dir, name), content, { mode: 0o600 });
  const errorLog = join(dir, 'error.log');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${errorLog} info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${o.http(dir)}
}
`,
  );
  // -e: the error log before the config is read (else the compiled-in /var/log/nginx/error.log is opened).
  const child = spawn('nginx', ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', errorLog], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('error', (err) => (stderr += err.message));
  const read = () => {
    try {
      return readFileSync(errorLog, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    tmp.remove();
  };
  for (let i = 0; ; i++) {
    const up = await Promise.all(o.ports.map(accepts));
    if (up.every(Boolean)) break;
    if (i > 100 || child.exitCode !== null || child.pid === undefined) {
      const why = `nginx did not start: ${stderr} ${read()}`;
      await stop();
      throw new Error(why);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { dir, errorLog: read, stop };
}
