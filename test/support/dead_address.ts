import { createServer, type AddressInfo } from 'node:net';

/**
 * A loopback `host:port` nothing listens on (bound once for a free port, then closed): connections to it are refused.
 *
 * @example
 * const upstream = `http://${await deadAddress()}`;
 */
export async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}
