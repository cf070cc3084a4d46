import type { startGatehouse as StartGatehouse } from './up.js';

export type { RunningGatehouse, Endpoints } from './up.js';
export { dataDirPaths } from './data_dir.js';
export type { DataDirPaths, Manifest } from './data_dir.js';
export type { PlatformCore } from './compose.js';

/**
 * `gatehouse up` in process (see ./up.ts). Loaded on demand so that admin commands, which only need the data
 * directory's paths, start without loading the server, storage drivers and the CA.
 *
 * @example
 * const running = await startGatehouse({ config, rootKey: {}, clock: systemClock, logger });
 * await running.stop();
 */
export async function startGatehouse(...args: Parameters<typeof StartGatehouse>): ReturnType<typeof StartGatehouse> {
  const { startGatehouse: start } = await import('./up.js');
  return start(...args);
}
