// A real `ws` client for the WebSocket tests of the gateway and the sidecar: opens a socket and resolves with it once
// the 101 came (with the 101's fields and every message received from the start: an app may speak first), or with
// the refusal the server answered instead (its status, fields and body, JSON parsed when it says so).
import type { IncomingHttpHeaders } from 'node:http';
import WebSocket, { type ClientOptions } from 'ws';

export type Opened = { status: 101; ws: WebSocket; headers: IncomingHttpHeaders; inbox: Buffer[] };
export type Refused<Body = unknown> = { status: number; headers: IncomingHttpHeaders; body: Body };

/** Opens `url` (ws:// or wss://) with `options` (fields, TLS trust) and `protocols`: the open socket or the refusal. */
export function openWebSocket<Body = unknown>(url: string, options: ClientOptions = {}, protocols: string[] = []) {
  return new Promise<Opened | Refused<Body>>((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    let upgradeHeaders: IncomingHttpHeaders = {};
    const inbox: Buffer[] = [];
    ws.on('message', (data: Buffer) => inbox.push(data));
    ws.once('upgrade', (res) => (upgradeHeaders = res.headers));
    ws.once('open', () => resolve({ status: 101, ws, headers: upgradeHeaders, inbox }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const json = String(res.headers['content-type'] ?? '').includes('json');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: (json ? JSON.parse(text) : text) as Body });
        ws.terminate();
      });
    });
    ws.once('error', reject);
  });
}

/** The open socket, or a thrown error naming the refusal. */
export function opened(result: Opened | Refused<unknown>): Opened {
  if (result.status !== 101) {
    throw new Error(`expected 101, got ${result.status}: ${JSON.stringify((result as Refused).body)}`);
  }
  return result as Opened;
}

/** Sends one message and waits for the next one (an echo). */
export function echo(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    ws.once('message', (reply: Buffer, binary: boolean) => resolve({ data: reply, binary }));
    ws.once('error', reject);
    ws.send(data);
  });
}

/** The close code once the socket has closed (-1 when it already had). */
export function closed(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(-1);
  return new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
}
