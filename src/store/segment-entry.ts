import { sql, type Kysely, type RawBuilder } from 'kysely';
import { segmentEntryDueAt } from '../domain/event-triggers.js';
import type { JourneyParams, Point, PointOf } from '../domain/journey.js';
import type { Backend } from './backend.js';
import type { LeaseLost, LeaseTerms, ResolveOutcome } from './entry/types.js';
import type { StoredJourney } from './journeys.js';
import { addToPointCounters } from './point-counters.js';
import type { Database, JourneyStatus } from './schema.js';
import { SEGMENT_ENTRY_CHANNEL, Wake } from './wake.js';

/**
 * Entry by segment (docs/entry-and-events.md). Starting a journey schedules,
 * in the transition's transaction, one `segment_entries` row per active
 * START_BY_SEGMENT point, due at once or at its `start_at`; a crash right
 * after `start` therefore loses nothing. A segment worker claims a due entry
 * under a lease, stages its audience once (one INSERT … SELECT of the
 * compiled filter's users), then enters the staged users batch by batch, each
 * batch one transaction that inserts the runs, removes them from the stage
 * and adds to the counters, so a retried entry enters each user once. Every
 * step after the claim is fenced by the lease.
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

export interface SegmentBatchTerms extends LeaseTerms {
  readonly batchSize: number;
  /** The `last` of the previous batch of this claim: the stage is read from after it. */
  readonly after?: string;
}

export type SegmentBatchOutcome =
  | {
      readonly kind: 'entered';
      readonly taken: number;
      readonly entered: number;
      readonly remaining: boolean;
      /** The greatest user id the batch took; undefined when it took none. */
      readonly last: string | undefined;
    }
  | { readonly kind: 'journey-not-running'; readonly status: JourneyStatus }
  | LeaseLost;

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

  constructor(
    private readonly backend: Backend,
    private readonly runWake: Wake,
  ) {
    this.wake = new Wake(backend, SEGMENT_ENTRY_CHANNEL);
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
      await this.cancel(trx, to.id, now, 'the point was removed or deactivated', points.map((p) => p.uuid));
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
    const journey = await this.backend.db
      .selectFrom('journeys')
      .select('uuid')
      .where('id', '=', row.journey_id)
      .executeTakeFirstOrThrow();
    return {
        id: Number(row.id),
        journeyId: Number(row.journey_id),
        journeyUuid: journey.uuid,
        applicationId: Number(row.application_id),
        pointUuid: row.point_uuid,
        filter: row.filter,
        audienceResolved: isTrue(row.audience_resolved),
        attempts: row.attempts,
      owner,
    };
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
  stageAudience(
    entry: ClaimedSegmentEntry,
    userIds: RawBuilder<{ user_id: string }>,
    { now, leaseMs }: LeaseTerms,
  ): Promise<ResolveOutcome> {
    return this.backend.db.transaction().execute(async (trx): Promise<ResolveOutcome> => {
      const lease = await this.holdLease(trx, entry);
      if (!lease) return { kind: 'lease-lost' };
      if (isTrue(lease.audience_resolved)) return { kind: 'resolved', selected: Number(lease.selected) };
      const staged = await sql`
        INSERT INTO segment_entry_audience (entry_id, user_id)
        SELECT ${entry.id}, u.user_id FROM (${userIds}) u`.execute(trx);
      const selected = Number(staged.numAffectedRows ?? 0);
      await trx
        .updateTable('segment_entries')
        .set({ audience_resolved: this.flag(true), selected, lease_expires_at: now + leaseMs })
        .where('id', '=', entry.id)
        .execute();
      return { kind: 'resolved', selected };
    });
  }

  /**
   * Enters the next `batchSize` staged users (by user id) at the segment
   * point, skipping those with an active run unless the journey allows
   * re-entry, in one transaction that also renews the lease. On Postgres the
   * journey row is locked as Start-by-API batches lock it, which serializes
   * entries into the journey and holds off a concurrent pause or finish.
   */
  enterBatch(entry: ClaimedSegmentEntry, terms: SegmentBatchTerms): Promise<SegmentBatchOutcome> {
    return this.backend.db.transaction().execute(async (trx): Promise<SegmentBatchOutcome> => {
      if (!(await this.holdLease(trx, entry))) return { kind: 'lease-lost' };
      const journey = await trx
        .selectFrom('journeys')
        .select(['status', 'params'])
        .where('id', '=', entry.journeyId)
        .$if(this.backend.dialect === 'postgres', (qb) => qb.forNoKeyUpdate())
        .executeTakeFirst();
      const status = journey?.status ?? 'STATUS_ARCHIVED';
      if (!journey || status !== 'STATUS_RUNNING') return { kind: 'journey-not-running', status };
      const allowReenter = (JSON.parse(journey.params) as JourneyParams).allow_reenter === true;

      const { after } = terms;
      const last = await this.lastUserOfNextBatch(trx, entry.id, terms.batchSize, after);
      if (last === undefined) {
        await this.renew(trx, entry, terms, 0, 0);
        return { kind: 'entered', taken: 0, entered: 0, remaining: false, last: undefined };
      }
      const fromAfter = after === undefined ? sql`` : sql`AND a.user_id > ${after}`;
      // OFFSET 0 keeps NOT EXISTS a per-row probe of runs_active_by_user on Postgres: flattened into an
      // anti-join, statistics of a runs table that was small when last analyzed made it re-read every
      // active run of the journey per staged user (49 s for 10,000 users against 20,000 runs, against
      // 0.23 s probing). See also `RunStore.refreshStatistics`. SQLite runs NOT EXISTS as that probe anyway.
      const probeFence = this.backend.dialect === 'postgres' ? sql`OFFSET 0` : sql``;
      const notAlreadyActive = allowReenter
        ? sql``
        : sql`AND NOT EXISTS (
            SELECT 1 FROM runs r
            WHERE r.journey_id = ${entry.journeyId} AND r.user_id = a.user_id AND r.state = 'active'
            ${probeFence})`;
      const inserted = await sql`
        INSERT INTO runs
          (journey_id, application_id, user_id, point_uuid, state, due_at, attributes, entered_at, updated_at)
        SELECT ${entry.journeyId}, ${entry.applicationId}, a.user_id, ${entry.pointUuid}, 'active', ${terms.now}, '{}',
               ${terms.now}, ${terms.now}
        FROM segment_entry_audience a
        WHERE a.entry_id = ${entry.id} AND a.user_id <= ${last} ${fromAfter}
        ${notAlreadyActive}`.execute(trx);
      const entered = Number(inserted.numAffectedRows ?? 0);
      const removed = await trx
        .deleteFrom('segment_entry_audience')
        .where('entry_id', '=', entry.id)
        .where('user_id', '<=', last)
        .$if(after !== undefined, (qb) => qb.where('user_id', '>', after as string))
        .executeTakeFirst();
      const taken = Number(removed.numDeletedRows);
      await this.renew(trx, entry, terms, entered, taken - entered);
      await addToPointCounters(trx, [{ journeyId: entry.journeyId, pointUuid: entry.pointUuid, entered, passed: 0 }]);
      if (entered > 0) await this.runWake.announce(trx);
      const remaining = await trx
        .selectFrom('segment_entry_audience')
        .select('user_id')
        .where('entry_id', '=', entry.id)
        .where('user_id', '>', last)
        .limit(1)
        .executeTakeFirst();
      return { kind: 'entered', taken, entered, remaining: remaining !== undefined, last };
    });
  }

  /** Marks the entry done; false when the lease was lost. */
  async finish(entry: ClaimedSegmentEntry, now: number): Promise<boolean> {
    const result = await this.backend.db
      .updateTable('segment_entries')
      .set({ status: 'done', finished_at: now, lease_owner: null, lease_expires_at: null })
      .where('id', '=', entry.id)
      .where('status', '=', 'processing')
      .where('lease_owner', '=', entry.owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Marks the entry failed with a reason and drops what is left of its stage; false when the lease was lost. */
  fail(entry: ClaimedSegmentEntry, error: string, now: number): Promise<boolean> {
    return this.backend.db.transaction().execute(async (trx) => {
      if (!(await this.holdLease(trx, entry))) return false;
      await trx.deleteFrom('segment_entry_audience').where('entry_id', '=', entry.id).execute();
      await trx
        .updateTable('segment_entries')
        .set({ status: 'failed', error, finished_at: now, lease_owner: null, lease_expires_at: null })
        .where('id', '=', entry.id)
        .execute();
      return true;
    });
  }

  /** Gives the entry back at once, keeping its progress (worker stopping, journey paused). */
  async release(entry: ClaimedSegmentEntry): Promise<void> {
    await this.backend.db
      .updateTable('segment_entries')
      .set({ status: 'scheduled', lease_owner: null, lease_expires_at: null })
      .where('id', '=', entry.id)
      .where('status', '=', 'processing')
      .where('lease_owner', '=', entry.owner)
      .execute();
  }

  /** Calls `onWake` whenever a journey with segment points starts, in this process or (Postgres) any. */
  watchStarts(onWake: () => void): Promise<() => Promise<void>> {
    return this.wake.listen(onWake);
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
          .where('segment_entries.audience_resolved', '=', this.flag(false)),
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
    if (cancelled.length === 0) return;
    await trx
      .deleteFrom('segment_entry_audience')
      .where(
        'entry_id',
        'in',
        cancelled.map((row) => row.id),
      )
      .execute();
  }

  /** Deletes the journey's entries and their stages; a worker holding one finds its lease gone. */
  private async forget(trx: Kysely<Database>, journeyId: number) {
    const entries = trx.selectFrom('segment_entries').select('id').where('journey_id', '=', journeyId);
    await trx.deleteFrom('segment_entry_audience').where('entry_id', 'in', entries).execute();
    await trx.deleteFrom('segment_entries').where('journey_id', '=', journeyId).execute();
  }

  /** Locks the entry row (Postgres) while `entry.owner` holds its lease; undefined when it does not. */
  private holdLease(trx: Kysely<Database>, entry: ClaimedSegmentEntry) {
    return trx
      .selectFrom('segment_entries')
      .select(['audience_resolved', 'selected'])
      .where('id', '=', entry.id)
      .where('status', '=', 'processing')
      .where('lease_owner', '=', entry.owner)
      .$if(this.backend.dialect === 'postgres', (qb) => qb.forUpdate())
      .executeTakeFirst();
  }

  private async renew(
    trx: Kysely<Database>,
    entry: ClaimedSegmentEntry,
    { now, leaseMs }: LeaseTerms,
    entered: number,
    skipped: number,
  ) {
    await trx
      .updateTable('segment_entries')
      .set((eb) => ({
        entered: eb('entered', '+', entered),
        skipped_already: eb('skipped_already', '+', skipped),
        lease_expires_at: now + leaseMs,
      }))
      .where('id', '=', entry.id)
      .execute();
  }

  /**
   * The greatest user id among the next `size` staged users after `after`, or
   * undefined when none is left. Reading from `after` rather than from the
   * start matters on Postgres: the index keeps the entries of users already
   * entered (deleted) until vacuum, and walking them on every batch made a
   * 500,000-user entry spend a third of its time there.
   */
  private async lastUserOfNextBatch(trx: Kysely<Database>, entryId: number, size: number, after: string | undefined) {
    const staged = trx
      .selectFrom('segment_entry_audience')
      .where('entry_id', '=', entryId)
      .$if(after !== undefined, (qb) => qb.where('user_id', '>', after as string));
    const nth = await staged
      .select('user_id')
      .orderBy('user_id')
      .limit(1)
      .offset(size - 1)
      .executeTakeFirst();
    if (nth) return nth.user_id;
    const max = await staged.select((eb) => eb.fn.max('user_id').as('user_id')).executeTakeFirst();
    return max?.user_id ?? undefined;
  }

  /** A boolean column's value: 0/1 on SQLite, a boolean on Postgres. */
  private flag(value: boolean): number | boolean {
    return this.backend.dialect === 'sqlite' ? Number(value) : value;
  }
}

function isTrue(flag: number | boolean): boolean {
  return flag === true || flag === 1;
}
