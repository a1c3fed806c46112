import { sql, type Kysely } from 'kysely';
import type { Backend } from './backend.js';
import { listenForNotifications, type StopListening } from './outbox.js';
import type { Database } from './schema.js';

/** Postgres NOTIFY channel on which "runs became due" wakes schedulers in every process. */
export const RUNS_DUE_CHANNEL = 'journeyd_runs_due';
/** Postgres NOTIFY channel on which a started journey wakes segment entry workers. */
export const SEGMENT_ENTRY_CHANNEL = 'journeyd_segment_entries';

/**
 * A wake-up signal on one channel: whoever creates work calls `announce`
 * with its transaction, workers `listen`. Listeners must tolerate spurious
 * calls. `store.runWake` is the one schedulers listen on: an event that moved
 * a waiting run or entered a user, and a segment that entered its users,
 * announce on it.
 */
export class Wake {
  private readonly localListeners = new Set<() => void>();

  constructor(
    private readonly backend: Backend,
    private readonly channel: string,
  ) {}

  /**
   * On Postgres a NOTIFY, delivered to every process when `executor`'s
   * transaction commits and never if it rolls back. On SQLite the listeners
   * of this process run after the current task; SQLite has one connection,
   * so what a woken worker reads waits for the transaction to end.
   */
  async announce(executor: Kysely<Database> = this.backend.db): Promise<void> {
    if (this.backend.dialect === 'postgres') {
      await sql`SELECT pg_notify(${this.channel}, '')`.execute(executor);
      return;
    }
    for (const listener of this.localListeners) queueMicrotask(listener);
  }

  /** Calls `listener` after each announcement, in this process (SQLite) or in any process (Postgres). */
  async listen(listener: () => void): Promise<StopListening> {
    if (this.backend.dialect === 'sqlite') {
      this.localListeners.add(listener);
      return async () => void this.localListeners.delete(listener);
    }
    return listenForNotifications(this.backend.pool, this.channel, listener);
  }
}
