import { Command } from 'commander';
import { systemClock } from '../../core/index.js';
import type { RestoreReport } from '../../app/index.js';
import { StreamingAdminClient } from '../object_client.js';
import { OutputFile } from '../output_file.js';
import { print } from '../output.js';
import { adminFlags, type AdminFlags } from './with_admin.js';

/** `gatehouse backup --out FILE`: a consistent snapshot from the running gatehouse, written atomically. */
export function backupCommand(): Command {
  return adminFlags(
    new Command('backup').description('consistent snapshot of records and objects (never the root key) to a tar file'),
  )
    .requiredOption('--out <file>', 'archive to write (temp file beside it, renamed when complete)')
    .action(async (flags: AdminFlags & { out: string }) => {
      const client = StreamingAdminClient.connect(flags.dataDir);
      const out = OutputFile.open(flags.out);
      try {
        const answer = await client.send('POST', '/v1/backup');
        await out.write(answer.body);
        const result = {
          file: flags.out,
          records: Number(answer.headers['gatehouse-backup-records']),
          objects: Number(answer.headers['gatehouse-backup-objects']),
        };
        print({ json: flags.json === true }, result, (r: typeof result) => {
          return `backup written to ${r.file}: ${r.records} records, ${r.objects} objects (no root key: keep it separately)`;
        });
      } catch (err) {
        out.discard();
        throw err;
      } finally {
        await client.close();
      }
    });
}

/** `gatehouse restore FILE --data-dir NEWDIR`: offline, into a new data directory. */
export function restoreCommand(): Command {
  return new Command('restore')
    .description('restore a backup into a NEW data directory (offline); start it with the original root key')
    .argument('<file>', 'archive written by gatehouse backup')
    .requiredOption('--data-dir <dir>', 'the new data directory')
    .option('--config <file>', 'configuration file (YAML or JSON); also GATEHOUSE_CONFIG')
    .option(
      '--root-key-file <file>',
      'the original root key, to authenticate the archive before restoring it (also GATEHOUSE_ROOT_KEY)',
    )
    .option(
      '--allow-unauthenticated',
      'restore an archive that cannot be authenticated (no root key, or a format-1 backup): trusts the archive storage',
    )
    .option('--json', 'print exactly one JSON document')
    .action(
      async (
        file: string,
        flags: {
          dataDir: string;
          config?: string;
          rootKeyFile?: string;
          allowUnauthenticated?: boolean;
          json?: boolean;
        },
      ) => {
        const { configFileFromEnvironment, loadConfig, processEnvironment, rootKeyFromEnvironment } =
          await import('../../config/index.js');
        const { restoreBackup } = await import('../../app/index.js');
        const env = processEnvironment();
        const configFile = flags.config ?? configFileFromEnvironment(env);
        const config = loadConfig({
          ...(configFile === undefined ? {} : { file: configFile }),
          env,
          overrides: { dataDir: flags.dataDir },
        });
        const { createLogger } = await import('../logger.js');
        const logger = createLogger(config.log.level);
        const rootKeyEnv = rootKeyFromEnvironment(env);
        const rootKey = {
          ...(flags.rootKeyFile === undefined ? {} : { file: flags.rootKeyFile }),
          ...(rootKeyEnv === undefined ? {} : { env: rootKeyEnv }),
        };
        const report = await restoreBackup({
          archive: file,
          config,
          clock: systemClock,
          logger,
          rootKey,
          allowUnauthenticated: flags.allowUnauthenticated === true,
        });
        print({ json: flags.json === true }, report, (r: RestoreReport) =>
          [
            `restored ${r.records} records, ${r.counters} counters and ${r.objects} objects into ${r.dataDir}`,
            r.authenticated
              ? 'archive authenticated under the root key'
              : 'archive NOT authenticated (no root key given, or a backup older than authenticated manifests)',
            `new admin token in ${r.adminToken}`,
            `start it with the ORIGINAL root key (fingerprint ${r.rootKeyFingerprint}):`,
            `  gatehouse up --data-dir ${r.dataDir}${configFile === undefined ? '' : ` --config ${configFile}`} --root-key-file FILE   (or GATEHOUSE_ROOT_KEY)`,
          ].join('\n'),
        );
      },
    );
}
