import { sql, type Kysely } from 'kysely';
import type { JourneyParams, Point } from '../../domain/journey.js';
import { InvalidTagError } from '../../domain/tags.js';
import type { Backend } from '../backend.js';
import type { StoredJourney } from '../journeys/index.js';
import type { OutboxStore } from '../outbox/index.js';
import type { Database } from '../schema.js';
import { addToPointCounters } from '../statistics/index.js';
import type { TagStore } from '../tags/index.js';
import type { Wake } from '../wake.js';
import { readDevicesOf, readTagsOf, readUsersMatching } from './batch-reads.js';
import { groupMoves } from './move-groups.js';
import { PostgresRunStatements } from './postgres.js';
import { SqliteRunStatements } from './sqlite.js';
import type {
  BatchAccess,
  BatchOutcome,
  BatchTerms,
  BatchWrite,
  DueRun,
  GroupDue,
  PointGroup,
  RunningJourney,
  RunStatements,
  TagWrite,
} from './types.js';

export type {
  BatchAccess,
  BatchOutcome,
  BatchReads,
  BatchTerms,
  BatchWrite,
  DeviceKind,
  DueRun,
  GroupDue,
  PointCounts,
  PointGroup,
  PointMessages,
  RecipientDevice,
  RunMove,
  RunningJourney,
  TagWrite,
} from './types.js';
export type { BatchMessage, UnrenderedMessage } from '../outbox/index.js';

/**
 * The scheduler's statements (docs/engine.md): finding which points of which
 * running journeys have due runs, and executing a batch of one point's due
 * runs in ONE transaction that selects the batch, lets the engine decide
 * (for that point and the instant points after it), and writes the moves,
 * the point counters, the outbox messages and the tag writes.
 *
 * The transaction is the batch's lease. On Postgres the batch's rows are
 * locked `FOR UPDATE SKIP LOCKED` (other workers skip them; event moves and
 * drop-users wait for the commit and then see the moved run) and the
 * journey's batch lock is held shared (a pause or finish waits for the
 * batch, and a batch that starts after it sees the new status); a worker that dies or
 * stalls mid-batch has its transaction rolled back by the server
 * (`idle_in_transaction_session_timeout`), which releases the rows and
 * refuses its commit. On SQLite the transaction is `BEGIN IMMEDIATE`: the one
 * write lock is held from the selection to the commit, and a crash rolls back.
 */
export class RunStore {
  private readonly statements: RunStatements;

  constructor(
    private readonly backend: Backend,
    private readonly outbox: OutboxStore,
    private readonly tags: TagStore,
    private readonly runWake: Wake,
  ) {
    this.statements = backend.dialect === 'sqlite' ? new SqliteRunStatements(backend) : new PostgresRunStatements(backend);
  }

  /**
   * Postgres: brings the planner's statistics of `runs` up to date (SQLite:
   * nothing). A large entry grows runs faster than autovacuum analyzes it;
   * planned from statistics taken while the journey had no runs, the
   * active-run probe of later batches took runs_by_journey_state_point and
   * read every active run of the journey per user (a 500,000-user segment
   * took 329 s instead of 11 s). The entry workers call this once, after the
   * first batch of an entry larger than a batch.
   */
  async refreshStatistics(): Promise<void> {
    if (this.backend.dialect === 'postgres') await sql`ANALYZE runs`.execute(this.backend.db);
  }

  /** Ids and revisions of the journeys in STATUS_RUNNING. */
  async runningRevisions(): Promise<Map<number, number>> {
    const rows = await this.backend.db.selectFrom('journeys').select(['id', 'revision']).where('status', '=', 'STATUS_RUNNING').execute();
    return new Map(rows.map((row) => [Number(row.id), Number(row.revision)]));
  }

  /** The definitions of these journeys (of any status). */
  async loadJourneys(ids: readonly number[]): Promise<RunningJourney[]> {
    if (ids.length === 0) return [];
    const rows = await this.backend.db
      .selectFrom('journeys')
      .select(['id', 'uuid', 'application_id', 'revision', 'params', 'points'])
      .where('id', 'in', ids)
      .execute();
    return rows.map((row) => ({
      id: Number(row.id),
      uuid: row.uuid,
      applicationId: Number(row.application_id),
      revision: Number(row.revision),
      params: JSON.parse(row.params) as JourneyParams,
      // A running journey's points passed `start`'s validation (see `Journey`).
      points: JSON.parse(row.points) as Point[],
    }));
  }

  /** For each group with active runs, its earliest `due_at` (future ones included). */
  nextDueTimes(groups: readonly PointGroup[]): Promise<GroupDue[]> {
    return groups.length === 0 ? Promise.resolve([]) : this.statements.nextDueTimes(groups);
  }

  /**
   * Executes a batch of the group's due runs in one transaction: checks the
   * journey is running, selects up to `terms.limit` due runs of the point
   * (earliest first), calls `execute` with them and the transaction's
   * access, then writes what it decided: each run's move, the points'
   * counters and the outbox messages. If `execute` throws, nothing is
   * written. A batch with no due run calls nothing and writes nothing.
   */
  async executeBatch(
    journey: Pick<RunningJourney, 'id' | 'applicationId'>,
    pointUuid: string,
    terms: BatchTerms,
    execute: (runs: readonly DueRun[], access: BatchAccess) => Promise<BatchWrite>,
  ): Promise<BatchOutcome> {
    const group = { journeyId: journey.id, pointUuid };
    return this.statements.transaction(async (executor): Promise<BatchOutcome> => {
      const status = await this.statements.lockJourney(executor, journey.id);
      if (status !== 'STATUS_RUNNING') return { kind: 'journey-not-running', status };
      const runs = await this.statements.selectDue(executor, group, terms);
      if (runs.length === 0) {
        return { kind: 'executed', runs, advancedTo: [], nextDueAt: await this.statements.nextDueAt(executor, group) };
      }
      const write = await execute(runs, this.accessFor(executor, journey.applicationId));
      await this.statements.applyMoves(executor, groupMoves(write.moves, terms.now), terms.now);
      await addToPointCounters(
        executor,
        write.counts.map(({ pointUuid: countedPoint, entered, passed, failed }) => ({
          journeyId: journey.id,
          pointUuid: countedPoint,
          entered,
          passed,
          failed,
        })),
      );
      const inserted = await this.outbox.enqueue(
        write.messages.map(({ pointUuid: messagePoint, channel, items, unrendered }) => ({
          applicationId: journey.applicationId,
          journeyId: journey.id,
          pointUuid: messagePoint,
          channel,
          items,
          unrendered,
        })),
        executor,
        terms.now,
      );
      if (inserted === 0) await this.statements.commitWithoutFlush(executor);
      const advancedTo = [...new Set(write.moves.flatMap((move) => (move.kind === 'advance' ? [move.to] : [])))];
      // After a full batch more runs are most likely due: not worth a probe (on Postgres, one that wades
      // through the index entries of the rows just moved until vacuum removes them).
      const nextDueAt = runs.length === terms.limit ? terms.now : await this.statements.nextDueAt(executor, group);
      return { kind: 'executed', runs, advancedTo, nextDueAt };
    });
  }

  /**
   * Lifecycle hook (JourneyStore.transition), in the transition's transaction:
   * - pause: the journey's undelivered messages are held (its runs simply stop being claimed);
   * - start / resume: held messages are released, runs at points the journey
   *   no longer has (removed while paused) exit there, and schedulers are woken;
   * - finish, or back to draft: every active run ends (`exited`, at its
   *   point) and undelivered messages are cancelled.
   */
  async onTransition(trx: Kysely<Database>, to: StoredJourney, now: number): Promise<void> {
    // A batch in flight commits first (its messages are then held or cancelled with the rest);
    // one that starts later reads the new status.
    if (to.journey.info.status !== 'STATUS_RUNNING') await this.statements.awaitBatches(trx, to.id);
    switch (to.journey.info.status) {
      case 'STATUS_PAUSED':
        await this.outbox.holdJourney(to.id, trx);
        return;
      case 'STATUS_RUNNING':
        // Runs at a point removed while the journey was paused have nowhere to go: they exit there.
        await exitActiveRuns(
          trx,
          to.id,
          now,
          to.journey.points.map((point) => point.uuid),
        );
        await this.outbox.resumeJourney(to.id, trx);
        await this.runWake.announce(trx);
        return;
      case 'STATUS_FINISHED':
      case 'STATUS_DRAFT':
        await exitActiveRuns(trx, to.id, now);
        await this.outbox.cancelUndelivered(to.id, undefined, trx);
        return;
      case 'STATUS_ARCHIVED':
        return;
    }
  }

  private accessFor(executor: Kysely<Database>, applicationId: number): BatchAccess {
    const { dialect } = this.backend;
    return {
      usersMatching: (audience, userIds) => readUsersMatching(executor, dialect, audience, userIds),
      devicesOf: (userIds, kind) => readDevicesOf(executor, dialect, applicationId, userIds, kind),
      tagsOf: (userIds) => readTagsOf(executor, dialect, applicationId, userIds),
      writeTags: (writes) => this.writeTags(executor, applicationId, writes),
    };
  }

  private async writeTags(
    executor: Kysely<Database>,
    applicationId: number,
    writes: readonly TagWrite[],
  ): Promise<{ refusedUsers: number; reasons: string[] }> {
    let refusedUsers = 0;
    const reasons = new Set<string>();
    for (const write of writes) {
      const deviceIds = await deviceIdsOf(executor, this.backend.dialect, applicationId, write.userIds);
      try {
        await this.tags.apply(applicationId, deviceIds, write.tags, executor);
      } catch (error) {
        if (!(error instanceof InvalidTagError)) throw error;
        refusedUsers += write.userIds.length;
        reasons.add(error.message);
      }
    }
    return { refusedUsers, reasons: [...reasons] };
  }
}

async function deviceIdsOf(
  executor: Kysely<Database>,
  dialect: Backend['dialect'],
  applicationId: number,
  userIds: readonly string[],
): Promise<number[]> {
  const devices = await readDevicesOf(executor, dialect, applicationId, userIds, 'any');
  return [...devices.values()].flatMap((list) => list.map((device) => device.id));
}

/** Ends the journey's active runs at the point they are at; with `keptPoints`, only those at other points. */
async function exitActiveRuns(trx: Kysely<Database>, journeyId: number, now: number, keptPoints: readonly string[] = []): Promise<void> {
  await trx
    .updateTable('runs')
    .set({ state: 'exited', exited_at: now, updated_at: now, waiting_point: null })
    .where('journey_id', '=', journeyId)
    .where('state', '=', sql.lit('active'))
    .$if(keptPoints.length > 0, (qb) => qb.where('point_uuid', 'not in', keptPoints))
    .execute();
}
