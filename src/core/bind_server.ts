import type { AddressInfo, Server } from 'node:net';

/**
 * Binds `server` (net, http, https or tls) and resolves with its address; a bind error (the port taken) rejects and
 * leaves no listener behind.
 *
 * @example
 * const { port } = await bindServer(server, '127.0.0.1', 0);
 */
export function bindServer(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
