import { changedKeys } from '../config/index.js';
import { GatehouseError, type Logger } from '../core/index.js';
import type { Gateway, GatewayConfig, UpstreamMesh } from '../gateway/index.js';
import type { AppAuthenticator, PreparedVerifier, VerifierIssuer } from './gateway_authenticator.js';
import type { GatewayMesh } from './gateway_mesh.js';
import { gatewayNeeds } from './gateway_needs.js';

/** Options of {@link GatewayCapabilities}. */
/**
 * The keys of the gateway's listener settings (`gateway.http2`, `gateway.slowClients`) that differ between the section
 * the listener was built with and `next`: a reload swaps routes, limits and upstreams, not the listener, so only a
 * restart applies them (for the `config_reload_ignored` warning).
 *
 * @example
 * listenerChanges(running.gateway, next.gateway); // ['gateway.http2.enabled']
 */
export function listenerChanges(running: GatewayConfig, next: GatewayConfig): string[] {
  return changedKeys(
    { gateway: { http2: running.http2, slowClients: running.slowClients } },
    { gateway: { http2: next.http2, slowClients: next.slowClients } },
  );
}

export interface GatewayCapabilitiesOptions {
  /** The authenticator, built for the start section (its verifier is started by `start`). */
  authenticator: AppAuthenticator;
  /**
   * Opens the gateway's mesh identity (SVID issued and renewed) for a section that needs one; undefined when this
   * gateway cannot have one for it (a standalone gateway without `gateway.mesh`: its `mtls` upstreams are refused).
   */
  openMesh: (section: GatewayConfig) => Promise<GatewayMesh | undefined>;
  logger: Logger;
}

/**
 * What the gateway's sections need from the process, built when a section first needs it (`gatewayNeeds`): the JWT
 * verifier and the mesh identity. `start` builds them for the start section; `reload` builds what a new section adds
 * and starts it before the new routes are swapped in, or refuses the reload (ERR_CONFIG_INVALID, the running routes,
 * verifier and identity unchanged). Reloads run one at a time; `close` closes everything built, at start or since.
 *
 * @example
 * const capabilities = new GatewayCapabilities({ authenticator, openMesh, logger });
 * const mesh = await capabilities.start(config.gateway);
 * const gateway = openGateway({ ..., authenticator, mesh });
 * await capabilities.reload(gateway, next.gateway); // on SIGHUP
 */
export class GatewayCapabilities {
  private mesh: GatewayMesh | undefined;
  /** The section the running mesh identity was opened for (at start or by the reload that added it). */
  private meshOpenedFor: GatewayConfig | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: GatewayCapabilitiesOptions) {}

  /** Starts the authenticator's verifier and opens the mesh identity when `section` needs one. */
  async start(section: GatewayConfig): Promise<UpstreamMesh | undefined> {
    await this.o.authenticator.start();
    if (gatewayNeeds(section).mesh) this.mesh = await this.o.openMesh(section);
    if (this.mesh !== undefined) this.meshOpenedFor = section;
    return this.mesh?.mesh;
  }

  /**
   * The `gateway.mesh` keys that differ between `section` and the section the running mesh identity was opened for:
   * a reload keeps that identity (it is not bootstrapped again), so only a restart applies them. Empty while no
   * identity runs (a reload that adds `gateway.mesh` opens one). Dotted keys, `gateway.mesh` itself when added or
   * removed.
   *
   * @example
   * serving.warnRestartOnly(next, { applied: ['gateway'], restartOnly: capabilities.meshChanges(next.gateway) });
   */
  meshChanges(section: GatewayConfig): string[] {
    if (this.meshOpenedFor === undefined) return [];
    return changedKeys({ gateway: { mesh: this.meshOpenedFor.mesh } }, { gateway: { mesh: section.mesh } });
  }

  /**
   * Swaps `section` into `gateway`, first building and starting what it needs that is not running (the first JWT
   * route's verifier, the first `mtls` upstream's SVID). Throws ERR_CONFIG_INVALID naming what is missing, or what
   * could not start, and then changes nothing. `issuer` replaces the verifier's issuer and CA bundle (a standalone
   * gateway's reloaded `identity.issuer` and `--issuer-ca`); a change rebuilds the verifier.
   */
  reload(gateway: Gateway, section: GatewayConfig, issuer?: VerifierIssuer): Promise<void> {
    const run = this.queue.then(() => this.apply(gateway, section, issuer));
    this.queue = run.catch(() => {});
    return run;
  }

  /** Closes the mesh identity and the verifier (after a reload in progress settles). */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    await this.mesh?.close();
    this.mesh = undefined;
    this.meshOpenedFor = undefined;
    await this.o.authenticator.close();
  }

  private async apply(gateway: Gateway, section: GatewayConfig, issuer: VerifierIssuer | undefined): Promise<void> {
    if (this.closed) throw new GatehouseError('ERR_CONFIG_INVALID', { message: 'gateway: stopping, reload refused' });
    const verifier: PreparedVerifier | undefined = await this.o.authenticator.prepare(section, issuer);
    let mesh: GatewayMesh | undefined;
    try {
      if (this.mesh === undefined && gatewayNeeds(section).mesh) mesh = await this.openMesh(section);
      gateway.reload(section, mesh === undefined ? {} : { mesh: mesh.mesh });
    } catch (err) {
      await mesh?.close();
      await verifier?.abandon();
      throw err;
    }
    if (mesh !== undefined) {
      this.mesh = mesh;
      this.meshOpenedFor = section;
    }
    await verifier?.commit();
    if (verifier !== undefined || mesh !== undefined) {
      this.o.logger.info(
        {
          event: 'gateway_capabilities_added',
          verifier: verifier !== undefined,
          mesh: mesh !== undefined,
        },
        'gateway reload built what the new section needs',
      );
    }
  }

  /** The mesh identity for a reload; a failure to get an SVID refuses the reload as a configuration error. */
  private async openMesh(section: GatewayConfig): Promise<GatewayMesh | undefined> {
    try {
      return await this.o.openMesh(section);
    } catch (err) {
      if (err instanceof GatehouseError && err.code === 'ERR_CONFIG_INVALID') throw err;
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: `gateway: the gateway's mesh identity (for upstreams with mtls) could not be issued: ${(err as Error).message}`,
        ...(err instanceof GatehouseError && err.detail !== undefined ? { detail: err.detail } : {}),
        cause: err,
      });
    }
  }
}
