import pino from 'pino';
import type { Logger } from '../core/index.js';

/** The process logger: structured JSON lines on stderr (stdout stays for command output), secrets redacted. */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['token', 'secret', 'password', 'key', 'plaintext', '*.token', '*.secret', '*.password', '*.plaintext'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: 2, sync: false }),
  ) as unknown as Logger;
}
