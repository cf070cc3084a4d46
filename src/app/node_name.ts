import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Config } from '../config/index.js';

/**
 * The name of this node as object metadata records it: `<hostname>:<dataDir>`. The host name says which machine (or
 * pod), the data directory which `gatehouse up` on it, since object files live in the data directory of the node that
 * wrote them (replicas on one machine differ by their data directories).
 *
 * @example
 * nodeName(config); // 'gh-2:/var/lib/gatehouse'
 */
export function nodeName(config: Pick<Config, 'dataDir'>): string {
  return `${hostname()}:${resolve(config.dataDir)}`;
}
