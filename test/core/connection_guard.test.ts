import { describe, expect, it } from 'vitest';
import { guardConnection, MemoryLogger } from '../../src/core/index.js';

function fakeSocket() {
  return {
    remoteAddress: '192.0.2.7',
    destroyed: 0,
    destroy() {
      this.destroyed += 1;
    },
  };
}

describe('guardConnection', () => {
  it('destroys the socket and logs the reason when the handler throws', () => {
    const logger = new MemoryLogger();
    const socket = fakeSocket();
    const handler = guardConnection(logger, { listener: 'mesh' }, () => {
      throw new TypeError("Argument 'asn' is not instance of ASN.1 BitString");
    });
    expect(() => handler(socket)).not.toThrow();
    expect(socket.destroyed).toBe(1);
    expect(logger.lines).toEqual([
      {
        level: 'error',
        msg: 'connection closed: its handler failed',
        listener: 'mesh',
        reason: 'connection_handler_failed',
        err: "Argument 'asn' is not instance of ASN.1 BitString",
        remote: '192.0.2.7',
      },
    ]);
  });

  it('leaves the socket alone when the handler returns', () => {
    const logger = new MemoryLogger();
    const socket = fakeSocket();
    const seen: unknown[] = [];
    guardConnection(logger, {}, (s) => seen.push(s))(socket);
    expect(seen).toEqual([socket]);
    expect(socket.destroyed).toBe(0);
    expect(logger.lines).toEqual([]);
  });
});
