import { sql, type Kysely } from 'kysely';
import type { Channel } from '../../domain/messages.js';
import type { JourneyParams, Point } from '../../domain/journey.js';
import { InvalidTagError } from '../../domain/tags.js';
import type { CompiledAudience } from '../audience.js';
import type { Backend } from '../backend.js';
import type { StoredJourney } from '../journeys/index.js';
import type { OutboxStore } from '../outbox.js';
import { addToPointCounters } from '../statistics/point-counters.js';
import { PostgresRunStatements } from './postgres.js';
import { groupMoves, type MoveGroup } from './move-groups.js';
import { readDevicesOf, readTagsOf, readUsersMatching, type DeviceKind, type RecipientDevice } from './batch-reads.js';
import type { Database, JourneyStatus } from '../schema.js';
import { SqliteRunStatements } from './sqlite.js';
import type { TagStore } from '../tags/index.js';
import type { Wake } from '../wake.js';

export type { DeviceKind, RecipientDevice } from './batch-reads.js';

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

/** One point of one journey: the unit the scheduler claims batches of. */
export interface PointGroup {
  readonly journeyId: number;
  readonly pointUuid: string;
}

/** A group's earliest due run, active or held, whether or not it is due yet. */
export interface GroupDue extends PointGroup {
  readonly nextDueAt: number;
}

/** A due run as the batch selected it. */
export interface DueRun {
  readonly id: number;
  readonly userId: string;
  /** JSON object of the entry's attribute values. */
  readonly attributes: string;
  readonly dueAt: number;
  /** The point whose wait the run has begun; equal to the batch's point when this execution ends a wait. */
  readonly waitingPoint: string | null;
}

/** Where one run of the batch ends up. */
export type RunMove =
  /** At point `to`, due at once (the batch did not execute it). */
  | { readonly kind: 'advance'; readonly runId: number; readonly to: string }
  /** Waiting at point `at` until `until`. */
  | { readonly kind: 'hold'; readonly runId: number; readonly at: string; readonly until: number }
  /** Out of the journey, at point `at`. */
  | { readonly kind: 'exit'; readonly runId: number; readonly at: string };

/** A rendered message for the outbox; the batch's journey, point and channel are implied. */
export interface BatchMessage {
  readonly runId: number;
  readonly userId: string;
  readonly hwid: string | null;
  readonly recipient: string;
  readonly payload: unknown;
  readonly deliverAt: number;
}

/** Tag values to set on every device of these users. */
export interface TagWrite {
  readonly userIds: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
}

/** The messages one point produced for runs of the batch. */
export interface PointMessages {
  readonly pointUuid: string;
  readonly channel: Channel;
  readonly items: readonly BatchMessage[];
}

/** What the batch adds to one point's counters. */
export interface PointCounts {
  readonly pointUuid: string;
  readonly entered: number;
  readonly passed: number;
  /** Messages or tag writes the point could not produce. */
  readonly failed: number;
}

/** Everything a batch decided, written at the end of its transaction (tag writes are applied as they happen). */
export interface BatchWrite {
  /** Where each run of the batch ends up. */
  readonly moves: readonly RunMove[];
  readonly counts: readonly PointCounts[];
  readonly messages: readonly PointMessages[];
}

export interface BatchTerms {
  readonly now: number;
  /** Most runs in the batch. */
  readonly limit: number;
}

export type BatchOutcome =
  | { readonly kind: 'journey-not-running'; readonly status: JourneyStatus | undefined }
  | {
      readonly kind: 'executed';
      readonly runs: readonly DueRun[];
      /** Points runs were left at, due at once. */
      readonly advancedTo: readonly string[];
      /** The group's earliest remaining run after the batch, or null when it has none; after a full batch, `now`. */
      readonly nextDueAt: number | null;
    };

/** Reads a point's execution needs, inside the batch's transaction. */
export interface BatchReads {
  /** The users among `userIds` with a device matching `audience` (one query). */
  usersMatching(audience: CompiledAudience, userIds: readonly string[]): Promise<Set<string>>;
  /** The users' devices of one kind, each user's most recently updated first. */
  devicesOf(userIds: readonly string[], kind: DeviceKind): Promise<Map<string, RecipientDevice[]>>;
  /** Each user's tags, as getTags shows a user: a tag's value from the user's most recently updated device that has it. */
  tagsOf(userIds: readonly string[]): Promise<Map<string, Record<string, unknown>>>;
}

/** The batch's transaction as the engine uses it: reads, and tag writes that later points of the batch see. */
export interface BatchAccess extends BatchReads {
  /**
   * Sets each write's tags on every device of its users, now. A write with
   * a value invalid for its tag's type is skipped whole (validation precedes
   * every device write); returns how many users' writes were skipped, and why.
   */
  writeTags(writes: readonly TagWrite[]): Promise<{ readonly refusedUsers: number; readonly reasons: readonly string[] }>;
}

/** A running journey's definition as the scheduler plans with it. */
export interface RunningJourney {
  readonly id: number;
  readonly uuid: string;
  readonly applicationId: number;
  readonly revision: number;
  readonly params: JourneyParams;
  readonly points: readonly Point[];
}

/** The per-dialect statements behind RunStore. */
export interface RunStatements {
  /** Runs `body` in the batch's transaction, giving it the executor to use; commits when it resolves. */
  transaction<T>(body: (executor: Kysely<Database>) => Promise<T>): Promise<T>;
  /**
   * The batch's first statement: the journey's status, read once the
   * journey's batch lock is held (shared, until the transaction ends).
   */
  lockJourney(executor: Kysely<Database>, journeyId: number): Promise<JourneyStatus | undefined>;
  /** In a lifecycle transition: waits for the journey's batches in flight, and holds off new ones until commit. */
  awaitBatches(executor: Kysely<Database>, journeyId: number): Promise<void>;
  /** Up to `limit` due active runs of the group, earliest first; Postgres locks them, skipping locked ones. */
  selectDue(executor: Kysely<Database>, group: PointGroup, terms: BatchTerms): Promise<DueRun[]>;
  /** Writes each group's values to its runs (`exited_at` is `now` for an exit, `updated_at` always). */
  applyMoves(executor: Kysely<Database>, groups: readonly MoveGroup[], now: number): Promise<void>;
  /** Inserts messages, skipping any whose idempotency key exists; returns how many were new. */
  insertMessages(
    executor: Kysely<Database>,
    group: PointGroup & { readonly applicationId: number; readonly channel: Channel },
    messages: readonly BatchMessage[],
    now: number,
  ): Promise<number>;
  /**
   * Lets the batch's commit return before its WAL is flushed (Postgres; SQLite in WAL mode with
   * `synchronous = NORMAL` never waits for a flush). Called for a batch that enqueued no message:
   * nothing it wrote has left the database, so if a server crash loses the commit its runs are
   * simply due again and executed again.
   */
  commitWithoutFlush(executor: Kysely<Database>): Promise<void>;
  /** The group's earliest active run, or null. */
  nextDueAt(executor: Kysely<Database>, group: PointGroup): Promise<number | null>;
  nextDueTimes(groups: readonly PointGroup[]): Promise<GroupDue[]>;
}

export class RunStore {
  private readonly statements: RunStatements;

  constructor(
    private readonly backend: Backend,
    private readonly outbox: OutboxStore,
    private readonly tags: TagStore,
    private readonly runWake: Wake,
  ) {
    this.statements =
      backend.dialect === 'sqlite' ? new SqliteRunStatements(backend) : new PostgresRunStatements(backend);
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
    const rows = await this.backend.db
      .selectFrom('journeys')
      .select(['id', 'revision'])
      .where('status', '=', 'STATUS_RUNNING')
      .execute();
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
      await this.addCounts(executor, journey.id, write.counts);
      let inserted = 0;
      for (const { pointUuid: messagePoint, channel, items } of write.messages) {
        if (items.length === 0) continue;
        const target = { journeyId: journey.id, pointUuid: messagePoint, applicationId: journey.applicationId, channel };
        inserted += await this.statements.insertMessages(executor, target, items, terms.now);
      }
      if (inserted > 0) await this.outbox.announceNewWork(executor);
      else await this.statements.commitWithoutFlush(executor);
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
      case 'STATUS_RUNNING': {
        // Runs at a point removed while the journey was paused have nowhere to go: they exit there.
        const points = to.journey.points.map((point) => point.uuid);
        await trx
          .updateTable('runs')
          .set({ state: 'exited', exited_at: now, updated_at: now, waiting_point: null })
          .where('journey_id', '=', to.id)
          .where('state', '=', sql.lit('active'))
          .$if(points.length > 0, (qb) => qb.where('point_uuid', 'not in', points))
          .execute();
        await this.outbox.resumeJourney(to.id, trx);
        await this.runWake.announce(trx);
        return;
      }
      case 'STATUS_FINISHED':
      case 'STATUS_DRAFT':
        await trx
          .updateTable('runs')
          .set({ state: 'exited', exited_at: now, updated_at: now, waiting_point: null })
          .where('journey_id', '=', to.id)
          .where('state', '=', sql.lit('active'))
          .execute();
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

  private async addCounts(executor: Kysely<Database>, journeyId: number, counts: readonly PointCounts[]): Promise<void> {
    await addToPointCounters(
      executor,
      counts.map((c) => ({ journeyId, pointUuid: c.pointUuid, entered: c.entered, passed: c.passed })),
    );
    for (const c of counts) if (c.failed > 0) await addFailures(executor, journeyId, c.pointUuid, c.failed);
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

async function addFailures(executor: Kysely<Database>, journeyId: number, pointUuid: string, failed: number): Promise<void> {
  await executor
    .insertInto('journey_point_counters')
    .values({ journey_id: journeyId, point_uuid: pointUuid, entered: 0, passed: 0, sent: 0, failed })
    .onConflict((oc) =>
      oc.columns(['journey_id', 'point_uuid']).doUpdateSet((eb) => ({
        failed: eb('journey_point_counters.failed', '+', eb.ref('excluded.failed')),
      })),
    )
    .execute();
}
