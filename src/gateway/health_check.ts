import type { Logger } from '../core/index.js';
import type { UpstreamConfig } from './gateway_config.js';
import type { GatewayMetrics } from './gateway_metrics.js';

/** The `healthCheck` block of an upstream (durations in ms). */
export type HealthCheckConfig = NonNullable<UpstreamConfig['healthCheck']>;

/** What the checker needs of each host: its own connection to send the checks on. */
export interface CheckedHost {
  /** The host's origin, for logs and the metric's `host` label. */
  origin: string;
  /**
   * Opens a dispatcher for this host alone (one connection, the same TLS, trust and mesh identity as the traffic's
   * pool): checks never queue behind the traffic, and a pool full of long requests does not stall them. A check that
   * runs out of time destroys it (undici aborts no request still connecting), and the next check opens another.
   */
  open: () => CheckDispatcher;
}

/** One check request. */
export interface CheckRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body: Buffer | null;
  timeoutMs: number;
}

/** What a check reads of an answer: its status, the first 64 KiB of its body, its trailers. */
export interface CheckAnswer {
  status: number;
  body: Buffer;
  trailers: Record<string, string | string[] | undefined>;
}

/** What a check needs of its dispatcher (health_check_dispatch.ts: over undici, or over HTTP/2). */
export interface CheckDispatcher {
  send(request: CheckRequest): Promise<CheckAnswer>;
  destroy(): Promise<void>;
  /** Later checks go to a new connection (the gateway's SVID was renewed); HTTP/2 ones only: HTTP/1.1's are short. */
  retire?(): void;
}

/** The gRPC health checking protocol's one method (grpc/grpc `doc/health-checking.md`). */
const GRPC_HEALTH_CHECK = '/grpc.health.v1.Health/Check';
/** `HealthCheckResponse.status` SERVING. */
const SERVING = 1;

/** A check that ran out of `timeout` (connecting and the TLS handshake included). */
class CheckTimeout extends Error {
  constructor() {
    super('timeout');
    this.name = 'CheckTimeout';
  }
}

/**
 * Active health checks of an upstream's hosts, as Envoy's `health_check`, Kong's `healthchecks.active` and HAProxy's
 * `check` do it: every `interval` (the first after a random part of it, so that gateways started together do not
 * check in step) each host gets `GET path` on its own connection; an answer of 2xx or 3xx within `timeout`
 * (connecting and the TLS handshake included) is a success, anything else (another status, a refused or broken
 * connection, no answer in time) a failure. `unhealthyThreshold` failures in a row take a host out of the rotation,
 * `healthyThreshold` successes in a row bring it back; hosts start healthy. Each host is checked on its own schedule:
 * a host that hangs delays no other's checks.
 *
 * @example
 * const checker = new HealthChecker('orders', hosts, config.healthCheck, { logger, metrics, onChange });
 * checker.start();
 */
export class HealthChecker {
  /** Whether each host is in the rotation as far as the checks go. */
  readonly healthy: boolean[];
  private readonly streaks: number[];
  private readonly running: boolean[];
  private readonly clients: (CheckDispatcher | undefined)[];
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    private readonly upstream: string,
    private readonly hosts: readonly CheckedHost[],
    private readonly config: HealthCheckConfig,
    private readonly deps: {
      logger: Logger;
      metrics: GatewayMetrics;
      /** A host moved in or out of the rotation. */
      onChange: (host: number, healthy: boolean) => void;
      random?: () => number;
    },
  ) {
    this.healthy = hosts.map(() => true);
    this.streaks = hosts.map(() => 0);
    this.running = hosts.map(() => false);
    this.clients = hosts.map(() => undefined);
  }

  /** Starts checking: each host's first check after a random part of `interval`, then every `interval`. */
  start(): void {
    const random = this.deps.random ?? Math.random;
    this.hosts.forEach((_, i) => {
      const first = setTimeout(
        () => {
          void this.check(i);
          const every = setInterval(() => void this.check(i), this.config.interval);
          every.unref();
          this.timers.push(every);
        },
        Math.floor(random() * this.config.interval),
      );
      first.unref();
      this.timers.push(first);
    });
  }

  /** Stops checking (the upstream was retired or closed) and closes the checks' connections. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const client of this.clients) void client?.destroy().catch(() => {});
  }

  /** Later checks open new connections (those in use finish first): the gateway's SVID was renewed. */
  retire(): void {
    for (const client of this.clients) client?.retire?.();
  }

  /** Checks every host once (a host whose check is still under way is skipped). */
  async round(): Promise<void> {
    await Promise.all(this.hosts.map((_, i) => this.check(i)));
  }

  private async check(i: number): Promise<void> {
    if (this.running[i] || this.stopped) return;
    this.running[i] = true;
    const client = (this.clients[i] ??= (this.hosts[i] as CheckedHost).open());
    let ok = false;
    let why: string;
    let timer: NodeJS.Timeout | undefined;
    try {
      // The whole check, connecting and the TLS handshake included, within `timeout`.
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CheckTimeout()), this.config.timeout);
      });
      const exchange = client.send(this.request());
      exchange.catch(() => {}); // settles after the deadline when the client is destroyed
      ({ ok, why } = this.judgeAnswer(await Promise.race([exchange, deadline])));
    } catch (err) {
      if (err instanceof CheckTimeout) {
        // undici aborts no request that is still connecting: drop the connection, the next check opens another.
        this.clients[i] = undefined;
        void client.destroy().catch(() => {});
      }
      const e = err as { code?: string; message?: string };
      why = e.code ?? e.message ?? 'failed';
    } finally {
      clearTimeout(timer);
      this.running[i] = false;
    }
    if (this.stopped) return;
    this.deps.metrics.healthChecks.labels(this.upstream, ok ? 'success' : 'failure').inc();
    this.judge(i, ok, why);
  }

  /** The check's request: `GET path`, or gRPC's `Health/Check` for `grpc.service`. */
  private request(): CheckRequest {
    const grpc = this.config.grpc;
    const common = { timeoutMs: this.config.timeout };
    if (grpc === undefined) {
      return {
        ...common,
        method: 'GET',
        path: this.config.path ?? '/',
        headers: { 'user-agent': 'gatehouse-health-check' },
        body: null,
      };
    }
    return {
      ...common,
      method: 'POST',
      path: GRPC_HEALTH_CHECK,
      headers: { 'content-type': 'application/grpc', 'user-agent': 'gatehouse-health-check' },
      body: grpcFrame(healthCheckRequest(grpc.service)),
    };
  }

  /**
   * An HTTP check passes on 2xx or 3xx; a gRPC one on HTTP 200, `grpc-status: 0` and a `HealthCheckResponse` whose
   * status is SERVING (NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN, an error status or an unreadable answer fail).
   */
  private judgeAnswer(answer: CheckAnswer): { ok: boolean; why: string } {
    if (this.config.grpc === undefined) {
      return { ok: answer.status >= 200 && answer.status < 400, why: `status ${answer.status}` };
    }
    if (answer.status !== 200) return { ok: false, why: `status ${answer.status}` };
    const code = answer.trailers['grpc-status'];
    if (code !== '0') return { ok: false, why: `grpc-status ${String(code ?? 'missing')}` };
    const status = servingStatus(answer.body);
    return { ok: status === SERVING, why: status === undefined ? 'unreadable answer' : `serving status ${status}` };
  }

  private judge(i: number, ok: boolean, why: string): void {
    const healthy = this.healthy[i] as boolean;
    if (ok === healthy) {
      this.streaks[i] = 0; // the host is where it should be: a streak the other way starts again
      return;
    }
    const streak = (this.streaks[i] as number) + 1;
    this.streaks[i] = streak;
    if (streak < (ok ? this.config.healthyThreshold : this.config.unhealthyThreshold)) return;
    this.streaks[i] = 0;
    this.healthy[i] = ok;
    const origin = (this.hosts[i] as CheckedHost).origin;
    this.deps.onChange(i, ok);
    const line = { event: 'gateway_health_check', upstream: this.upstream, host: origin, healthy: ok, last: why };
    if (ok) this.deps.logger.info(line, 'upstream host passed its health checks: back in the rotation');
    else this.deps.logger.warn(line, 'upstream host failed its health checks: out of the rotation');
  }
}

/** A gRPC message frame: uncompressed, its 4-byte big-endian length, the message. */
function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** `HealthCheckRequest { string service = 1; }` in protobuf's wire format (empty: the server as a whole). */
function healthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  if (name.length === 0) return Buffer.alloc(0);
  if (name.length > 127) throw new Error('grpc health check service name over 127 bytes'); // the schema bounds it
  return Buffer.concat([Buffer.from([0x0a, name.length]), name]);
}

/**
 * The `status` (field 1, an enum: a varint) of the one `HealthCheckResponse` in a gRPC answer body; undefined when the
 * body is not one uncompressed frame holding a message protobuf can read. Other fields are skipped by wire type.
 */
function servingStatus(body: Buffer): number | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) return undefined;
  let at = 5;
  let status = 0; // proto3: an absent enum is its zero value (UNKNOWN)
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 35 && at < body.length; shift += 7) {
      const byte = body[at++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    return undefined;
  };
  while (at < body.length) {
    const key = varint();
    if (key === undefined) return undefined;
    const wire = key & 7;
    if (wire === 0) {
      const value = varint();
      if (value === undefined) return undefined;
      if (key >>> 3 === 1) status = value;
    } else if (wire === 2) {
      const n = varint();
      if (n === undefined || at + n > body.length) return undefined;
      at += n;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      if (at > body.length) return undefined;
    } else return undefined;
  }
  return status;
}
