import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { systemClock } from '../../core/index.js';
import type { RunningGatehouse } from '../../app/index.js';
import { logLevelOption } from '../log_level.js';

interface UpFlags {
  dataDir?: string;
  config?: string;
  rootKeyFile?: string;
  logLevel?: string;
}

function banner(running: RunningGatehouse): string {
  const { endpoints, paths } = running;
  const dir = paths.dir;
  const lines = [
    '',
    `gatehouse is up (pid ${endpoints.pid}), data in ${dir}`,
    '',
    existsSync(paths.adminToken)
      ? `  admin API     ${endpoints.admin}   (127.0.0.1 only; token in ${paths.adminToken})`
      : `  admin API     ${endpoints.admin}   (127.0.0.1 only; no admin token here: copy admin.token from a replica into ${dir}, mode 600)`,
    `  KMS API       ${endpoints.kms}   (transit API, docs/kms.md)`,
    endpoints.issuer === endpoints.identity
      ? `  identity      ${endpoints.identity}   (OAuth2 issuer: ${endpoints.identity}/.well-known/oauth-authorization-server)`
      : `  identity      ${endpoints.identity}   (OAuth2 issuer ${endpoints.issuer}: ${endpoints.identity}/.well-known/oauth-authorization-server)`,
    `  identity mTLS ${endpoints.identityMtls}   (token, introspection, revocation with client certificates: RFC 8705)`,
    `  CA API        ${endpoints.ca}   (SVIDs, renewal over mTLS, bundles: docs/ca.md)`,
    `  gateway       ${endpoints.gateway}   (data plane; /demo/ needs an API key with scope demo, docs/gateway.md)`,
    `  trust bundle  ${endpoints.trustBundle}   (trust domain ${endpoints.trustDomain})`,
    ...(endpoints.mesh
      ? [
          `  mesh demo     curl http://${endpoints.mesh.frontend}/   (frontend → backend sidecar over mTLS at ${endpoints.mesh.backend}, docs/mesh.md)`,
        ]
      : []),
    `  endpoints     ${paths.endpoints}`,
    '',
  ];
  if (running.created) lines.push('  First start: the data directory was initialized.');
  if (running.rootKeyCreated) {
    lines.push(
      `  WARNING: the root key was written to ${paths.rootKey}, beside the data it protects.`,
      '           Move it somewhere safe and start with --root-key-file FILE or GATEHOUSE_ROOT_KEY.',
    );
  }
  lines.push(
    '',
    'Try next:',
    `  curl --cacert ${endpoints.trustBundle} ${endpoints.admin}/healthz`,
    `  npx gatehouse kms key create orders --data-dir ${dir}`,
    `  npx gatehouse ca status --data-dir ${dir}`,
    '',
  );
  return lines.join('\n');
}

/**
 * `gatehouse up`: the whole platform on one machine; stops cleanly on SIGINT/SIGTERM; SIGHUP reloads the gateway
 * section (naming in the log every other changed key, which needs a restart), then looks for a root key rotated
 * through another replica. A SIGHUP during startup is held until the platform runs.
 */
export function upCommand(): Command {
  return new Command('up')
    .description('run every capability on this machine (embedded defaults: SQLite, in-memory limits)')
    .option('--data-dir <dir>', 'data directory (default ./.gatehouse, or dataDir from the config)')
    .option('--config <file>', 'configuration file (YAML or JSON); also GATEHOUSE_CONFIG')
    .option('--root-key-file <file>', 'file holding the root key (default DIR/root.key; also GATEHOUSE_ROOT_KEY)')
    .addOption(logLevelOption())
    .action(async (flags: UpFlags) => {
      const { startGatehouse, listenerChanges } = await import('../../app/index.js');
      const { startServing } = await import('../serve.js');
      const serving = startServing(flags, { stopMessage: 'stopping: draining in-flight requests' });
      const { config, logger, stopWith } = serving;
      const running = await startGatehouse({
        config,
        rootKey: serving.rootKey(flags.rootKeyFile),
        clock: systemClock,
        logger,
      });
      // SIGHUP, in order: the gateway section of the configuration file, then a root key rotated by another replica.
      // Every other setting is read at start only: a changed one is named in the log (config_reload_ignored).
      serving.onHangup(async () => {
        try {
          const next = serving.load();
          // The gateway's listener settings (http2, slowClients) are applied at start only.
          serving.warnRestartOnly(next, {
            applied: ['gateway'],
            restartOnly: listenerChanges(config.gateway, next.gateway),
          });
          // Builds what the section adds (JWT verifier, the gateway's SVID) before its routes are swapped in.
          await running.reloadGateway(next.gateway);
          logger.info({ event: 'gateway_reload' }, 'gateway configuration reloaded (SIGHUP)');
        } catch (err) {
          logger.error(
            { event: 'gateway_reload_failed', reason: (err as Error).message },
            'reload refused; keeping the running gateway configuration',
          );
        }
        try {
          if ((await running.refreshRootKey()) === 'adopted') {
            process.stdout.write('gatehouse up: root key rotated through another replica: now sealing with it\n');
          }
        } catch (err) {
          logger.error({ event: 'root_key_check_failed', reason: (err as Error).message }, 'root key check failed');
        }
      });
      stopWith(() => running.stop());
      // Last, once every signal is handled: whoever waits for this line may signal at once.
      process.stdout.write(banner(running));
      logger.info({ endpoints: running.endpoints }, 'gatehouse is up');
    });
}
