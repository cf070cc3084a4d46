import { Readable } from 'node:stream';
import { request, type Agent } from 'undici';
import { GatehouseError, isGatehouseError } from '../core/index.js';
import { notRunningOn, openAdminConnection } from './admin_client.js';
import { errorFromAnswer } from './problem_error.js';

/** The answer of a raw request: status and body stream (problem answers already turned into errors). */
export interface RawAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/**
 * The answer body, with a connection lost half way (the server aborts an answer that fails after it started, or it
 * stopped) turned into ERR_TRANSFER_ABORTED instead of undici's bare 'other side closed'.
 */
function abortsTyped(body: Readable): Readable {
  async function* chunks() {
    try {
      for await (const chunk of body) yield chunk as Buffer;
    } catch (err) {
      if (isGatehouseError(err)) throw err;
      throw new GatehouseError('ERR_TRANSFER_ABORTED', {
        message: 'the server ended the transfer before it was complete (see its log)',
        detail: (err as Error).message,
      });
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/**
 * Raw streaming requests to the admin API of the gatehouse running on a data directory (object store, backups):
 * any method, a streamed request body, a streamed answer. Problem answers become GatehouseErrors with their code.
 *
 * @example
 * const client = StreamingAdminClient.connect('./.gatehouse');
 * const answer = await client.send('GET', '/v1/objects/photos/a.jpg');
 */
export class StreamingAdminClient {
  private constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly agent: Agent,
    private readonly dir: string,
  ) {}

  /** Finds the running gatehouse through DIR/endpoints.json (same rules and errors as `AdminClient.connect`). */
  static connect(dataDir: string): StreamingAdminClient {
    const { base, token, agent, dir } = openAdminConnection(dataDir);
    return new StreamingAdminClient(base, token, agent, dir);
  }

  async send(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: Readable): Promise<RawAnswer> {
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(`${this.base}${path}`, {
        method,
        dispatcher: this.agent,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/octet-stream' }),
        },
        ...(body === undefined ? {} : { body }),
        headersTimeout: 600_000,
        bodyTimeout: 600_000,
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED') {
        throw notRunningOn(this.dir);
      }
      throw err;
    }
    if (response.statusCode >= 400) {
      throw errorFromAnswer(response.statusCode, await response.body.text(), response.headers['retry-after']);
    }
    return { statusCode: response.statusCode, headers: response.headers, body: abortsTyped(response.body) };
  }

  /** Sends and parses a JSON answer. */
  async json<T>(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: Readable): Promise<T> {
    const answer = await this.send(method, path, body);
    let text = '';
    for await (const chunk of answer.body) text += (chunk as Buffer).toString('utf8');
    return JSON.parse(text) as T;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
