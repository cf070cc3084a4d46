import type { startGatehouse as StartGatehouse } from './up.js';
import type { restoreBackup as RestoreBackup } from './restore.js';
import type { startStandaloneGateway as StartStandaloneGateway } from './gateway_standalone.js';
import type { startStandaloneComponent as StartStandaloneComponent } from './component_standalone.js';

export type { RunningGatehouse } from './up.js';
export type { Endpoints } from './endpoints_file.js';
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

/**
 * `gatehouse restore` (see ./restore.ts), loaded on demand like {@link startGatehouse}.
 *
 * @example
 * const report = await restoreBackup({ archive: 'backup.tar', config, clock: systemClock, logger });
 */
export async function restoreBackup(...args: Parameters<typeof RestoreBackup>): ReturnType<typeof RestoreBackup> {
  const { restoreBackup: restore } = await import('./restore.js');
  return restore(...args);
}
export type { RestoreReport } from './restore.js';

/**
 * `gatehouse gateway` (see ./gateway_standalone.ts), loaded on demand like {@link startGatehouse}.
 *
 * @example
 * const gw = await startStandaloneGateway({ config, certPem, keyPem, clock: systemClock, logger });
 */
export async function startStandaloneGateway(
  ...args: Parameters<typeof StartStandaloneGateway>
): ReturnType<typeof StartStandaloneGateway> {
  const { startStandaloneGateway: start } = await import('./gateway_standalone.js');
  return start(...args);
}
export type { StandaloneGateway } from './gateway_standalone.js';

/**
 * `gatehouse identity|kms|ca` (see ./component_standalone.ts), loaded on demand like {@link startGatehouse}.
 *
 * @example
 * const running = await startStandaloneComponent({ component: 'kms', config, rootKey: {}, clock: systemClock, logger });
 */
export async function startStandaloneComponent(
  ...args: Parameters<typeof StartStandaloneComponent>
): ReturnType<typeof StartStandaloneComponent> {
  const { startStandaloneComponent: start } = await import('./component_standalone.js');
  return start(...args);
}
export type { RunningComponent, StandaloneComponent } from './component_standalone.js';
export { startStandaloneSidecar } from './sidecar_standalone.js';
export type { RunningSidecar } from './sidecar_standalone.js';
export { listenerChanges } from './gateway_capabilities.js';
