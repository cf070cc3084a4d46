import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { GatehouseError, dataDirPaths } from '../core/index.js';
import { clientTlsOptions } from '../crypto/index.js';
import type { Endpoints } from '../app/index.js';
import { errorFromAnswer } from './problem_error.js';

/** Where and how to reach the admin API of a running gatehouse: base URL, admin token, TLS agent trusting its CA. */
export interface AdminConnection {
  base: string;
  token: string;
  agent: Agent;
  /** The data directory, for the "not running on DIR" message when the listener refuses connections. */
  dir: string;
  /** DIR/endpoints.json as read to find the admin listener: what the running gatehouse listens on. */
  endpoints: Endpoints;
}

/** ERR_NOT_RUNNING (exit 3) with the contract's message: `gatehouse is not running on DIR`. */
export function notRunningOn(dir: string): GatehouseError {
  return new GatehouseError('ERR_NOT_RUNNING', { message: `gatehouse is not running on ${dir}` });
}

/**
 * Finds the running gatehouse through DIR/endpoints.json and reads DIR/admin.token and its trust bundle;
 * ERR_NOT_RUNNING (exit 3) when there is none, ERR_ADMIN_UNAUTHORIZED when the token or bundle cannot be read.
 *
 * @example
 * const { base, token, agent } = openAdminConnection('./.gatehouse');
 */
export function openAdminConnection(dataDir: string): AdminConnection {
  const paths = dataDirPaths(dataDir);
  const notRunning = () => notRunningOn(paths.dir);
  let endpoints: Endpoints;
  try {
    endpoints = JSON.parse(readFileSync(paths.endpoints, 'utf8')) as Endpoints;
  } catch {
    throw notRunning();
  }
  if (!isAlive(endpoints.pid)) throw notRunning();
  let token: string;
  let ca: string;
  try {
    token = readFileSync(paths.adminToken, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new GatehouseError('ERR_ADMIN_UNAUTHORIZED', {
      message:
        code === 'ENOENT'
          ? `${paths.adminToken} does not exist: a gatehouse up that joined storage another replica initialized writes none; copy admin.token from that replica (mode 600)`
          : `cannot read the admin token ${paths.adminToken}: ${code}`,
    });
  }
  try {
    ca = readFileSync(endpoints.trustBundle, 'utf8');
  } catch (err) {
    throw new GatehouseError('ERR_ADMIN_UNAUTHORIZED', {
      message: `cannot read the trust bundle ${endpoints.trustBundle}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    });
  }
  const agent = new Agent({ connect: { ...clientTlsOptions({ ca }), servername: 'localhost' } });
  return { base: endpoints.admin, token, agent, dir: paths.dir, endpoints };
}

/** Talks to the admin API of the gatehouse running on a data directory, with DIR/admin.token. */
export class AdminClient {
  private constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly agent: Agent,
    private readonly dir: string,
    /** DIR/endpoints.json as read when connecting: where the running gatehouse listens. */
    readonly endpoints: Endpoints,
  ) {}

  /** Finds the running gatehouse through DIR/endpoints.json; ERR_NOT_RUNNING (exit 3) when there is none. */
  static connect(dataDir: string): AdminClient {
    const { base, token, agent, dir, endpoints } = openAdminConnection(dataDir);
    return new AdminClient(base, token, agent, dir, endpoints);
  }

  async call<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    try {
      const response = await request(`${this.base}${path}`, {
        method,
        dispatcher: this.agent,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      const text = await response.body.text();
      if (response.statusCode >= 400) throw errorFromAnswer(response.statusCode, text, response.headers['retry-after']);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') {
        throw notRunningOn(this.dir);
      }
      throw err;
    }
  }

  /**
   * A request whose body and answer are streams (the KMS streaming endpoints). Resolves with the answer's body once
   * its headers arrived with a 2xx status; a problem answer becomes a GatehouseError with its code and title.
   */
  async stream(path: string, body: Readable): Promise<Readable> {
    try {
      const response = await request(`${this.base}${path}`, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/octet-stream' },
        body,
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      if (response.statusCode >= 400)
        throw errorFromAnswer(response.statusCode, await response.body.text(), response.headers['retry-after']);
      return response.body;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED') {
        throw notRunningOn(this.dir);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
