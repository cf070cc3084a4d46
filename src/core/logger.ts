/**
 * The logging interface domain code depends on (pino satisfies it). Log lines carry structured fields; they never
 * carry a token, key, secret or plaintext.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: object): Logger;
}

/** A logger that drops everything: the default in tests. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/** A logger that keeps its lines in memory, for tests that assert on what was logged. */
export class MemoryLogger implements Logger {
  readonly lines: Array<{ level: string; msg: string | undefined } & Record<string, unknown>> = [];
  constructor(private readonly bindings: object = {}) {}
  private push(level: string, obj: object, msg?: string): void {
    this.lines.push({ ...this.bindings, ...obj, level, msg });
  }
  debug(obj: object, msg?: string): void {
    this.push('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.push('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.push('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.push('error', obj, msg);
  }
  child(bindings: object): Logger {
    const child = new MemoryLogger({ ...this.bindings, ...bindings });
    // Children share the parent's line buffer so tests can see everything in one place.
    (child as { lines: MemoryLogger['lines'] }).lines = this.lines;
    return child;
  }
}
