/**
 * Leases keep a scheduled job (key rotation by age, certificate renewal, cleanup) to one process at a time across
 * replicas. Adapters: a PostgreSQL session advisory lock; on SQLite an OS lock on a file beside the database; in
 * memory for tests. A lease is released when its holder releases it or dies.
 *
 * @example
 * const ran = await runUnderLease(leases, 'signing-key-rotation', async () => rotateIfDue());
 */
export interface Leases {
  /** Takes the named lease if it is free; `undefined` when another holder has it. Never waits. */
  tryAcquire(name: string): Promise<Lease | undefined>;
  close(): Promise<void>;
}

export interface Lease {
  readonly name: string;
  release(): Promise<void>;
}

/** Runs `job` only if the lease is free, releasing it afterwards. Returns whether the job ran. */
export async function runUnderLease(leases: Leases, name: string, job: () => Promise<void>): Promise<boolean> {
  const lease = await leases.tryAcquire(name);
  if (!lease) return false;
  try {
    await job();
    return true;
  } finally {
    await lease.release();
  }
}
