import type { Logger } from './logger.js';

/** What {@link guardConnection} needs of a socket. */
export interface GuardedSocket {
  remoteAddress?: string | undefined;
  destroy(): void;
}

/**
 * Wraps a per-connection event handler (a server's `secureConnection` hook, which judges bytes a peer sent) so that an
 * unexpected throw ends that one connection instead of the process: the socket is destroyed and an error line
 * `connection closed: its handler failed` is logged with `reason: "connection_handler_failed"`, the error message and
 * the remote address, plus `fields` (the listener's name).
 *
 * @example
 * server.on('secureConnection', guardConnection(logger, { listener: 'ca' }, (socket) => judge(socket)));
 */
export function guardConnection<S extends GuardedSocket>(
  logger: Logger,
  fields: Record<string, unknown>,
  handler: (socket: S) => void,
): (socket: S) => void {
  return (socket) => {
    try {
      handler(socket);
    } catch (err) {
      logger.error(
        {
          ...fields,
          reason: 'connection_handler_failed',
          err: err instanceof Error ? err.message : String(err),
          remote: socket.remoteAddress,
        },
        'connection closed: its handler failed',
      );
      socket.destroy();
    }
  };
}
