import { sql } from 'kysely';
import type { Backend } from '../backend.js';
import type { OutboxStore } from '../outbox.js';
import { chunks } from '../sql/chunks.js';

export interface DropUsersInput {
  readonly journeyIds: readonly number[];
  /** De-duplicated user ids. */
  readonly userIds: readonly string[];
}

export interface DropUsersOutcome {
  /** Active runs ended. */
  readonly droppedRuns: number;
  /** Messages of those users in those journeys that had not been sent and never will be. */
  readonly cancelledMessages: number;
}

/** Ids per IN list: two lists of this size stay far below either dialect's parameter limit. */
const IDS_PER_LIST = 500;

/**
 * Drop-users (docs/entry-and-events.md): ends the users' active runs in the journeys at once
 * and cancels their undelivered messages there, in one transaction. A dropped
 * run is `state = 'dropped'` with `exited_at` set. On Postgres a run a
 * scheduler's batch holds is locked by that batch: the drop waits for its
 * commit and then drops the run where the batch left it, cancelling any
 * message the batch produced. Locks are taken journeys first, then runs, each
 * in id order, as postEvent takes them, so neither deadlocks with the other
 * nor with a lifecycle transition.
 * No point counter changes: the run leaves `in_point` (counted from active
 * runs) and counts as exited in the totals, and `passed` stays for runs that
 * moved on.
 */
export class DropUsersStore {
  constructor(
    private readonly backend: Backend,
    private readonly outbox: OutboxStore,
  ) {}

  /** Every journey of the applications, whatever its status: `all_journeys`. */
  async journeyIdsOf(applicationIds: readonly number[]): Promise<number[]> {
    if (applicationIds.length === 0) return [];
    const rows = await this.backend.db
      .selectFrom('journeys')
      .select('id')
      .where('application_id', 'in', [...applicationIds])
      .orderBy('id')
      .execute();
    return rows.map((row) => Number(row.id));
  }

  async drop(input: DropUsersInput, now = Date.now()): Promise<DropUsersOutcome> {
    if (input.journeyIds.length === 0 || input.userIds.length === 0) return { droppedRuns: 0, cancelledMessages: 0 };
    return this.backend.db.transaction().execute(async (trx) => {
      if (this.backend.dialect === 'postgres') {
        // The journeys first, shared and in id order as events lock them: a pause, finish or draft
        // of one of them (which ends or holds its runs) waits for the drop instead of locking the
        // same runs in another order.
        for (const journeyIds of chunks(input.journeyIds, IDS_PER_LIST)) {
          await trx.selectFrom('journeys').select('id').where('id', 'in', journeyIds).orderBy('id').forShare().execute();
        }
      }
      let droppedRuns = 0;
      for (const journeyIds of chunks(input.journeyIds, IDS_PER_LIST)) {
        for (const userIds of chunks(input.userIds, IDS_PER_LIST)) {
          if (this.backend.dialect === 'postgres') {
            // Then the runs in id order, as events moving waiting runs lock them.
            await trx
              .selectFrom('runs')
              .select('id')
              .where('journey_id', 'in', journeyIds)
              .where('user_id', 'in', userIds)
              .where('state', '=', sql.lit('active'))
              .orderBy('id')
              .forUpdate()
              .execute();
          }
          const result = await trx
            .updateTable('runs')
            .set({
              state: 'dropped',
              exited_at: now,
              updated_at: now,
              waiting_point: null,
              lease_owner: null,
              lease_expires_at: null,
            })
            .where('journey_id', 'in', journeyIds)
            .where('user_id', 'in', userIds)
            .where('state', '=', sql.lit('active'))
            .executeTakeFirst();
          droppedRuns += Number(result.numUpdatedRows);
        }
      }
      let cancelledMessages = 0;
      for (const journeyId of input.journeyIds) {
        cancelledMessages += await this.outbox.cancelUndelivered(journeyId, input.userIds, trx);
      }
      return { droppedRuns, cancelledMessages };
    });
  }
}
