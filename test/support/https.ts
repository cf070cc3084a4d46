import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';

/** An undici agent that trusts only the given bundle, speaking TLS 1.3 like our own clients. */
export function trustingAgent(bundleFile: string): Agent {
  return bundleAgent(readFileSync(bundleFile, 'utf8'));
}

/** Like {@link trustingAgent} for a bundle in memory, presenting the client certificate `material` when given. */
export function bundleAgent(bundlePem: string, material?: { chainPem: string; keyPem: string }): Agent {
  return new Agent({
    connect: {
      ca: bundlePem,
      minVersion: 'TLSv1.3',
      servername: 'localhost',
      ...(material ? { cert: material.chainPem, key: material.keyPem } : {}),
    },
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

/** What {@link callJson} sends: a JSON body or a form (then POST unless told), else a GET. */
export interface CallInit {
  method?: string;
  headers?: Record<string, string>;
  json?: unknown;
  form?: string;
}

/**
 * One HTTP call through `agent`; the answer's body parsed as JSON when it is JSON, else kept as text.
 *
 * @example
 * const { status, body } = await callJson(agent, `${endpoints.admin}/v1/identity/clients`, { json: { name: 'x' } });
 */
export async function callJson(
  agent: Dispatcher,
  url: string,
  init: CallInit = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are walked freely in assertions
): Promise<{ status: number; headers: Record<string, unknown>; body: any }> {
  const res = await request(url, {
    method: (init.method ?? (init.json === undefined && init.form === undefined ? 'GET' : 'POST')) as 'GET',
    dispatcher: agent,
    headers: {
      ...(init.headers ?? {}),
      ...(init.json === undefined ? {} : { 'content-type': 'application/json' }),
      ...(init.form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
    ...(init.form === undefined ? {} : { body: init.form }),
  });
  const text = await res.body.text();
  let body: unknown = text === '' ? undefined : text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // HTML or plain text stays a string
  }
  return { status: res.statusCode, headers: res.headers, body };
}
