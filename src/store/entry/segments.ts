import type { Kysely, RawBuilder } from 'kysely';
import { segmentEntryDueAt } from '../../domain/event-triggers.js';
import type { Point, PointOf } from '../../domain/journey.js';
import type { Backend } from '../backend.js';
import type { StoredJourney } from '../journeys/index.js';
import type { Database, JourneyStatus, SegmentEntryStatus } from '../schema.js';
import { isSet, toFlag } from '../sql/flag.js';
import { SEGMENT_ENTRY_CHANNEL, Wake } from '../wake.js';
import { entryStatements } from './statements.js';
import type { LeaseTerms, ResolveOutcome, StageBatchOutcome, StagedEntry, StageStatements } from './types.js';

/**
 * Entry by segment (docs/entry-and-events.md). Starting a journey schedules,
 * in the transition's transaction, one `segment_entries` row per active
 * START_BY_SEGMENT point, due at once or at its `start_at`; a crash right
 * after `start` therefore loses nothing. A segment worker claims a due entry
 * under a lease, stages its audience once (one INSERT … SELECT of the
 * compiled filter's users), then enters the staged users batch by batch, each
 * batch one transaction that inserts the runs, takes them off the stage and
 * adds to the counters, so a retried entry enters each user once. Every step
 * after the claim is fenced by the lease. The stage and its batches are Start
 * by API's (StageStatements, one implementation per dialect).
 */

export type SegmentPoint = PointOf<'POINT_TYPE_START_BY_SEGMENT'>;

/** A due segment entry a worker holds under a lease. */
export interface ClaimedSegmentEntry {
  readonly id: number;
  readonly journeyId: number;
  readonly journeyUuid: string;
  readonly applicationId: number;
  readonly pointUuid: string;
  readonly filter: string;
  readonly audienceResolved: boolean;
  /** Claims so far, this one included. */
  readonly attempts: number;
  readonly owner: string;
}

/** A segment entry's progress as the statistics endpoint shows it. */
export interface SegmentEntryView {
  readonly status: SegmentEntryStatus;
  readonly selected: number;
  readonly entered: number;
  /** Why it failed or was cancelled; null otherwise. */
  readonly error: string | null;
}

export interface SegmentBatchTerms extends LeaseTerms {
  readonly batchSize: number;
}

/** A segment batch's outcome: the stage's, `last` included. */
export type SegmentBatchOutcome = StageBatchOutcome;

const NOT_ENTERING: readonly JourneyStatus[] = ['STATUS_FINISHED', 'STATUS_ARCHIVED'];

/** The START_BY_SEGMENT points of a journey that enter users. */
export function activeSegmentPoints(points: readonly Point[]): SegmentPoint[] {
  return points.filter(
    (point): point is SegmentPoint =>
      point.point_type === 'POINT_TYPE_START_BY_SEGMENT' && point.point_data.start_by_segment.is_deactivated !== true,
  );
}

export class SegmentEntryStore {
  private readonly wake: Wake;
  private readonly stages: StageStatements;

  /** `runWake` is announced whenever entered runs commit, so that schedulers execute them at once. */
  constructor(
    private readonly backend: Backend,
    runWake: Wake,
  ) {
    this.wake = new Wake(backend, SEGMENT_ENTRY_CHANNEL);
    this.stages = entryStatements(backend, runWake);
  }

  /**
   * Lifecycle hook. Entering RUNNING schedules each active segment point once
   * per launch: a resumed journey does not enter its segment again, an entry
   * that has not begun follows the latest definition (a journey edited while
   * paused), and entries of points since removed or deactivated are
   * cancelled. Going back to draft ends the launch (the scheduler ends every
   * run): the journey's entries are deleted, and its next start enters its
   * segments afresh. Finishing or archiving cancels what has not finished.
   */
  async onTransition(trx: Kysely<Database>, to: StoredJourney, now: number): Promise<void> {
    const status = to.journey.info.status;
    if (status === 'STATUS_RUNNING') {
      const points = activeSegmentPoints(to.journey.points);
      for (const point of points) await this.schedule(trx, to, point, now);
      await this.cancel(
        trx,
        to.id,
        now,
        'the point was removed or deactivated',
        points.map((p) => p.uuid),
      );
      if (points.length > 0) await this.wake.announce(trx);
    } else if (status === 'STATUS_DRAFT') {
      await this.forget(trx, to.id);
    } else if (NOT_ENTERING.includes(status)) {
      await this.cancel(trx, to.id, now, `the journey is ${status}`, []);
    }
  }

  /**
   * Takes the entry due soonest that is scheduled, or processing under an
   * expired lease, of a running journey. On Postgres concurrent workers skip
   * each other's rows.
   */
  async claimDue(owner: string, { now, leaseMs }: LeaseTerms): Promise<ClaimedSegmentEntry | undefined> {
    const due = this.backend.db
      .selectFrom('segment_entries as p')
      .innerJoin('journeys as j', 'j.id', 'p.journey_id')
      .select('p.id')
      .where('p.status', 'in', ['scheduled', 'processing'])
      .where('p.due_at', '<=', now)
      .where((eb) => eb.or([eb('p.status', '=', 'scheduled'), eb('p.lease_expires_at', '<', now)]))
      .where('j.status', '=', 'STATUS_RUNNING')
      .orderBy('p.due_at')
      .orderBy('p.id')
      .limit(1)
      .$if(this.backend.dialect === 'postgres', (qb) => qb.forUpdate('p').skipLocked());
    const row = await this.backend.db
      .updateTable('segment_entries')
      .set((eb) => ({
        status: 'processing',
        lease_owner: owner,
        lease_expires_at: now + leaseMs,
        attempts: eb('attempts', '+', 1),
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
      }))
      .where('id', '=', due)
      .returning(['id', 'journey_id', 'application_id', 'point_uuid', 'filter', 'audience_resolved', 'attempts'])
      .executeTakeFirst();
    if (!row) return undefined;
    const journey = await this.backend.db.selectFrom('journeys').select('uuid').where('id', '=', row.journey_id).executeTakeFirstOrThrow();
    return {
      id: Number(row.id),
      journeyId: Number(row.journey_id),
      journeyUuid: journey.uuid,
      applicationId: Number(row.application_id),
      pointUuid: row.point_uuid,
      filter: row.filter,
      audienceResolved: isSet(row.audience_resolved),
      attempts: row.attempts,
      owner,
    };
  }

  /** The journey's segment entries of this launch, by point uuid. */
  async ofJourney(journeyId: number): Promise<Map<string, SegmentEntryView>> {
    const rows = await this.backend.db
      .selectFrom('segment_entries')
      .select(['point_uuid', 'status', 'selected', 'entered', 'error'])
      .where('journey_id', '=', journeyId)
      .execute();
    return new Map(
      rows.map((row) => [
        row.point_uuid,
        { status: row.status, selected: Number(row.selected), entered: Number(row.entered), error: row.error },
      ]),
    );
  }

  /** When the next entry of a running journey becomes claimable; undefined when none is waiting. */
  async nextDueAt(): Promise<number | undefined> {
    const row = await this.backend.db
      .selectFrom('segment_entries as p')
      .innerJoin('journeys as j', 'j.id', 'p.journey_id')
      .select((eb) =>
        eb.fn
          .min<number | null>(
            eb.case().when('p.status', '=', 'scheduled').then(eb.ref('p.due_at')).else(eb.ref('p.lease_expires_at')).end(),
          )
          .as('next'),
      )
      .where('p.status', 'in', ['scheduled', 'processing'])
      .where('j.status', '=', 'STATUS_RUNNING')
      .executeTakeFirst();
    return row?.next === null || row?.next === undefined ? undefined : Number(row.next);
  }

  /**
   * Stages the entry's audience, `userIds` (the compiled filter's distinct
   * users of the application), once, and sets `selected`.
   */
  stageAudience(entry: ClaimedSegmentEntry, userIds: RawBuilder<{ user_id: string }>, terms: LeaseTerms): Promise<ResolveOutcome> {
    return this.stages.stage(staged(entry), { kind: 'filter', userIds }, terms);
  }

  /**
   * Enters the next `batchSize` staged users (by user id) at the segment
   * point, skipping those with an active run unless the journey, as the
   * batch's transaction reads it, allows re-entry; the lease is renewed in
   * the same transaction.
   */
  enterBatch(entry: ClaimedSegmentEntry, terms: SegmentBatchTerms): Promise<SegmentBatchOutcome> {
    return this.stages.enterBatch(staged(entry), { ...terms, allowReenter: undefined });
  }

  /** Marks the entry done; false when the lease was lost. */
  finish(entry: ClaimedSegmentEntry, now: number): Promise<boolean> {
    return this.stages.finish(staged(entry), now);
  }

  /** Marks the entry failed with a reason and drops what is left of its stage; false when the lease was lost. */
  fail(entry: ClaimedSegmentEntry, error: string, now: number): Promise<boolean> {
    return this.stages.fail(staged(entry), error, now);
  }

  /** Gives the entry back at once, keeping its progress (worker stopping, journey paused). */
  release(entry: ClaimedSegmentEntry): Promise<void> {
    return this.stages.release(staged(entry));
  }

  /** Calls `onWake` whenever a journey with segment points starts, in this process or (Postgres) any. */
  watchStarts(onWake: () => void, onLost?: (error: Error) => void): Promise<() => Promise<void>> {
    return this.wake.listen(onWake, onLost);
  }

  private async schedule(trx: Kysely<Database>, journey: StoredJourney, point: SegmentPoint, now: number) {
    const { filter, start_at: startAt } = point.point_data.start_by_segment;
    await trx
      .insertInto('segment_entries')
      .values({
        journey_id: journey.id,
        application_id: journey.applicationId,
        point_uuid: point.uuid,
        filter,
        due_at: segmentEntryDueAt(startAt, now),
        status: 'scheduled',
        created_at: now,
      })
      .onConflict((oc) =>
        oc
          .columns(['journey_id', 'point_uuid'])
          .doUpdateSet((eb) => ({ filter: eb.ref('excluded.filter'), due_at: eb.ref('excluded.due_at') }))
          .where('segment_entries.status', '=', 'scheduled')
          .where('segment_entries.audience_resolved', '=', toFlag(false)),
      )
      .execute();
  }

  /** Cancels the journey's unfinished entries except those of `keep` points, and drops their stages. */
  private async cancel(trx: Kysely<Database>, journeyId: number, now: number, reason: string, keep: string[]) {
    const cancelled = await trx
      .updateTable('segment_entries')
      .set({ status: 'cancelled', error: reason, finished_at: now, lease_owner: null, lease_expires_at: null })
      .where('journey_id', '=', journeyId)
      .where('status', 'in', ['scheduled', 'processing'])
      .$if(keep.length > 0, (qb) => qb.where('point_uuid', 'not in', keep))
      .returning('id')
      .execute();
    await this.stages.dropStages(
      trx,
      'segment',
      cancelled.map((row) => Number(row.id)),
    );
  }

  /** Deletes the journey's entries and their stages; a worker holding one finds its lease gone. */
  private async forget(trx: Kysely<Database>, journeyId: number) {
    const forgotten = await trx.deleteFrom('segment_entries').where('journey_id', '=', journeyId).returning('id').execute();
    await this.stages.dropStages(
      trx,
      'segment',
      forgotten.map((row) => Number(row.id)),
    );
  }
}

/** The stage's view of a claimed segment entry: its runs start with no attributes. */
function staged(entry: ClaimedSegmentEntry): StagedEntry {
  return {
    source: 'segment',
    id: entry.id,
    owner: entry.owner,
    journeyId: entry.journeyId,
    applicationId: entry.applicationId,
    pointUuid: entry.pointUuid,
    attributes: '{}',
    label: `segment entry ${entry.id}`,
  };
}
