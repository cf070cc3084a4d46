import { runUnderLease, type Leases, type Logger, type RecordStore } from '../core/index.js';

/** A job that runs every `everyMs`, on at most one replica at a time (under the lease of its name). */
export interface ScheduledJob {
  name: string;
  everyMs: number;
  run(): Promise<void>;
}

/**
 * Runs scheduled jobs under leases so that two replicas never run one at the same time. Each job decides from stored
 * state whether there is work, so a run that follows another replica's run finds nothing to do.
 */
export class Scheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly leases: Leases,
    private readonly logger: Logger,
  ) {}

  add(job: ScheduledJob): void {
    const tick = () => {
      const run = runUnderLease(this.leases, job.name, job.run)
        .then((ran) => {
          if (!ran) this.logger.debug({ job: job.name }, 'job skipped: lease held elsewhere');
        })
        .catch((err: unknown) => this.logger.error({ job: job.name, err: (err as Error).message }, 'job failed'))
        .finally(() => this.running.delete(run));
      this.running.add(run);
    };
    const timer = setInterval(tick, job.everyMs);
    timer.unref();
    this.timers.push(timer);
  }

  /** Stops scheduling and waits for runs in progress. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await Promise.allSettled([...this.running]);
  }
}

const PURGE_EVERY_MS = 10 * 60_000;

/**
 * The purge of expired records (join tokens, codes, sessions, revocations past their expiry) every 10 minutes, on
 * one replica at a time like every scheduled job.
 *
 * @example
 * scheduler.add(recordsPurgeJob(core.records, logger));
 */
export function recordsPurgeJob(records: RecordStore, logger: Logger): ScheduledJob {
  return {
    name: 'records-purge',
    everyMs: PURGE_EVERY_MS,
    run: async () => {
      const purged = await records.purgeExpired();
      if (purged > 0) logger.info({ purged }, 'expired records purged');
    },
  };
}
