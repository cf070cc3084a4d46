import pino from 'pino';
import type { Logger } from '../core/index.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * Our Logger over pino, with bindings that merge: pino writes every child's bindings as they come, so a `component`
 * bound by a parent and again by a child (the mesh's `component: "mesh"` above a sidecar identity's
 * `component: "identity"`), or a call field named like a binding, appeared twice in one JSON line. Log stores that
 * parse strictly (Elasticsearch refuses duplicate keys by default) dropped those lines. Here a child's bindings
 * replace its parent's of the same name, and a call's fields replace the bindings of the same name.
 */
class MergingLogger implements Logger {
  private readonly out: pino.Logger;

  constructor(
    private readonly root: pino.Logger,
    private readonly bindings: Record<string, unknown>,
  ) {
    this.out = Object.keys(bindings).length === 0 ? root : root.child(bindings);
  }

  debug(obj: object, msg?: string): void {
    this.write('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.write('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.write('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.write('error', obj, msg);
  }

  child(bindings: object): Logger {
    return new MergingLogger(this.root, { ...this.bindings, ...bindings });
  }

  private write(level: Level, obj: object, msg: string | undefined): void {
    if (!this.out.isLevelEnabled(level)) return;
    let target = this.out;
    for (const name in obj) {
      if (Object.hasOwn(this.bindings, name)) {
        // Rare (a field named like a binding): a one-off child without the bindings the call replaces.
        const kept = Object.fromEntries(Object.entries(this.bindings).filter(([k]) => !Object.hasOwn(obj, k)));
        target = this.root.child(kept);
        break;
      }
    }
    target[level](obj, msg);
  }
}

/**
 * The process logger: structured JSON lines on stderr (stdout stays for command output), secrets redacted.
 * `destination` is for tests.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const root = pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['token', 'secret', 'password', 'key', 'plaintext', '*.token', '*.secret', '*.password', '*.plaintext'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
  return new MergingLogger(root, {});
}
