import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Backend } from './backend.js';
import type { Database } from './schema.js';

/** Postgres NOTIFY channel on which "runs became due" wakes schedulers in every process. */
export const RUNS_DUE_CHANNEL = 'journeyd_runs_due';
/** Postgres NOTIFY channel on which an accepted Start-by-API request wakes entry workers (the accept statement notifies). */
export const ENTRY_CHANNEL = 'journeyd_entry_requests';
/** Postgres NOTIFY channel on which a started journey wakes segment entry workers. */
export const SEGMENT_ENTRY_CHANNEL = 'journeyd_segment_entries';
/** Postgres NOTIFY channel on which enqueued or released messages wake dispatchers. */
export const OUTBOX_CHANNEL = 'journeyd_outbox';

export type StopListening = () => Promise<void>;

/**
 * A wake-up signal on one channel: whoever creates work calls `announce`
 * with its transaction, workers `listen`. Listeners must tolerate spurious
 * calls. `store.runWake` is the one schedulers listen on: an event that moved
 * a waiting run or entered a user, and a segment that entered its users,
 * announce on it; `store.outbox.newWork` is the dispatchers'.
 *
 * A statement that notifies in its own SQL (`SELECT pg_notify(channel, '')`
 * inside the insert, which saves a round trip) names `channel`.
 */
export class Wake {
  private readonly localListeners = new Set<() => void>();

  constructor(
    private readonly backend: Backend,
    readonly channel: string,
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

  /**
   * Calls `listener` after each announcement, in this process (SQLite) or in
   * any process (Postgres, see `listenForNotifications`). `onLost` hears of a
   * lost LISTEN connection: until it is back only polling finds new work.
   */
  async listen(listener: () => void, onLost?: (error: Error) => void): Promise<StopListening> {
    if (this.backend.dialect === 'sqlite') {
      this.localListeners.add(listener);
      return async () => void this.localListeners.delete(listener);
    }
    return listenForNotifications(this.backend.pool, this.channel, listener, onLost);
  }
}

const RECONNECT_DELAY_MS = 1000;

/**
 * Holds one pool connection LISTENing on `channel`. If the connection is lost
 * it tells `onLost`, reconnects a second later (and every second until that
 * works), then calls the listener once, since notifications sent in between
 * were missed. Rejects when the first LISTEN fails.
 */
async function listenForNotifications(
  pool: pg.Pool,
  channel: string,
  listener: () => void,
  onLost: ((error: Error) => void) | undefined,
): Promise<StopListening> {
  let current: { client: pg.PoolClient; detach(): void } | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;

  const reconnectLater = () => {
    if (!stopped) retry = setTimeout(() => void connect(true).catch(reconnectLater), RECONNECT_DELAY_MS);
  };
  const connect = async (reconnecting: boolean): Promise<void> => {
    const client = await pool.connect();
    let released = false;
    const onNotification = (n: pg.Notification) => {
      if (n.channel === channel) listener();
    };
    const detach = () => {
      client.removeListener('notification', onNotification);
      client.removeListener('error', onError);
    };
    const drop = () => {
      if (released) return;
      released = true;
      detach();
      client.release(true);
      if (current?.client === client) current = undefined;
    };
    const onError = (error: Error) => {
      drop();
      if (stopped) return;
      onLost?.(error);
      reconnectLater();
    };
    client.on('notification', onNotification);
    client.on('error', onError);
    try {
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      drop();
      throw error;
    }
    if (stopped) {
      detach();
      client.release();
      return;
    }
    current = { client, detach };
    if (reconnecting) listener();
  };

  await connect(false);
  return async () => {
    stopped = true;
    clearTimeout(retry);
    const held = current;
    current = undefined;
    if (!held) return;
    await held.client.query(`UNLISTEN ${channel}`).catch(() => {});
    held.detach();
    held.client.release();
  };
}
