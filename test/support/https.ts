import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

/** An undici agent that trusts only the given bundle, speaking TLS 1.3 like our own clients. */
export function trustingAgent(bundleFile: string): Agent {
  return new Agent({
    connect: { ca: readFileSync(bundleFile, 'utf8'), minVersion: 'TLSv1.3', servername: 'localhost' },
  });
}

export async function getJson(
  agent: Agent,
  url: string,
  init: { method?: 'GET' | 'POST' | 'DELETE'; token?: string; body?: unknown } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: unknown }> {
  const response = await request(url, {
    method: init.method ?? 'GET',
    dispatcher: agent,
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** Runs `openssl s_client` against host:port with extra flags; resolves with its combined output and exit code. */
export function sClient(port: number, flags: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...flags],
      { timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, output: stdout + stderr });
      },
    );
    child.stdin?.end('Q\n');
  });
}
