import { sql, type Kysely } from 'kysely';
import type { EventAttributes } from '../../domain/event-conditions.js';
import {
  compileTrigger,
  entersAt,
  eventAttributeValues,
  triggersOf,
  wakeTarget,
  type CompiledTrigger,
  type PostedEvent,
} from '../../domain/event-triggers.js';
import type { Point } from '../../domain/journey.js';
import type { Backend } from '../backend.js';
import { enterUserIntoJourneys } from '../entry/statements.js';
import type { StoredJourney } from '../journeys/index.js';
import { addToPointCounters, type PointCountDelta } from '../statistics/index.js';
import { isSet, toFlag } from '../sql/flag.js';
import type { Wake } from '../wake.js';
import type { Database } from '../schema.js';

/** An event as `EventStore.record` has just inserted it. */
export interface RecordedEvent extends PostedEvent {
  readonly applicationId: number;
  readonly userId: string;
  readonly attributes: EventAttributes;
  /** When it was received: the moment runs are entered and moved. */
  readonly now: number;
}

export interface EventReaction {
  /** Journeys the event entered its user into. */
  readonly entered: number;
  /** Waiting runs it moved to a branch. */
  readonly moved: number;
}

/** Compiled triggers are kept per point document; a journey re-started with edits has new documents. */
const MAX_CACHED_TRIGGERS = 10_000;

interface TriggerRow {
  journey_id: number;
  point_uuid: string;
  kind: 'entry' | 'wait';
  point: string;
  allow_reenter: number;
}

/**
 * What events do to journeys, inside the transaction that records the event
 * (docs/entry-and-events.md):
 *
 * - journey_event_triggers indexes the EVENT entry points and WAIT_EVENT
 *   points of running journeys by (application, event name). It is rewritten
 *   by every lifecycle transition, in the transition's transaction, so an
 *   event needs one index lookup to find the points it may concern, and an
 *   application whose running journeys ignore the event pays only that.
 * - A waiting run moves by compare-and-set on (id, point, active, no live
 *   lease): one that timed out meanwhile or is leased is not moved, and on
 *   Postgres one a scheduler's batch holds locked is re-checked after that
 *   batch commits.
 * - On Postgres the matching journeys' rows are locked FOR SHARE, which holds
 *   off a concurrent pause or finish (not other events) until commit, and an
 *   entry without `allow_reenter` takes a transaction advisory lock on
 *   (journey, user), so concurrent events of one user enter it once.
 */
export class EventReactionStore {
  private readonly compiled = new Map<string, CompiledTrigger>();

  constructor(
    private readonly backend: Backend,
    private readonly runWake: Wake,
  ) {}

  /**
   * Lifecycle hook: makes the journey's rows in the trigger index match its
   * new status: its event points while it runs, none otherwise.
   */
  async syncTriggers(trx: Kysely<Database>, journey: StoredJourney): Promise<void> {
    await trx.deleteFrom('journey_event_triggers').where('journey_id', '=', journey.id).execute();
    if (journey.journey.info.status !== 'STATUS_RUNNING') return;
    const points = journey.journey.points;
    const allowReenter = journey.journey.info.params.allow_reenter === true;
    const rows = triggersOf(points).flatMap((trigger) =>
      trigger.eventNames.map((eventName) => ({
        application_id: journey.applicationId,
        event_name: eventName,
        journey_id: journey.id,
        point_uuid: trigger.pointUuid,
        kind: trigger.kind,
        point_order: trigger.pointOrder,
        allow_reenter: toFlag(allowReenter),
        point: JSON.stringify(points[trigger.pointOrder]),
      })),
    );
    if (rows.length > 0) await trx.insertInto('journey_event_triggers').values(rows).execute();
  }

  /** Applies `event` to the journeys of its application, through `trx`, the transaction that recorded it. */
  async react(trx: Kysely<Database>, event: RecordedEvent): Promise<EventReaction> {
    const rows = await this.triggersFor(trx, event);
    if (rows.length === 0) return { entered: 0, moved: 0 };
    const counts: PointCountDelta[] = [];
    // Waiting runs first, so a run this event enters is never also woken by it.
    const moved = await this.wakeWaitingRuns(trx, event, rows, counts);
    const entered = await this.enterJourneys(trx, event, rows, counts);
    await addToPointCounters(trx, counts);
    if (moved + entered > 0) await this.runWake.announce(trx);
    return { entered, moved };
  }

  private async triggersFor(trx: Kysely<Database>, event: RecordedEvent): Promise<TriggerRow[]> {
    const lock = this.backend.dialect === 'postgres' ? sql`FOR SHARE OF j` : sql``;
    const { rows } = await sql<TriggerRow>`
      SELECT t.journey_id, t.point_uuid, t.kind, t.point, t.allow_reenter
      FROM journey_event_triggers t JOIN journeys j ON j.id = t.journey_id
      WHERE t.application_id = ${event.applicationId} AND t.event_name = ${event.name}
        AND j.status = 'STATUS_RUNNING'
      ORDER BY t.journey_id, t.point_order
      ${lock}`.execute(trx);
    return rows.map((row) => ({ ...row, journey_id: Number(row.journey_id) }));
  }

  /** Moves the user's runs waiting at matching WAIT_EVENT points: one select, one compare-and-set update. */
  private async wakeWaitingRuns(
    trx: Kysely<Database>,
    event: RecordedEvent,
    triggers: readonly TriggerRow[],
    counts: PointCountDelta[],
  ): Promise<number> {
    const waits = new Map<string, Extract<CompiledTrigger, { kind: 'wait' }>>();
    for (const row of triggers) {
      const trigger = this.compile(row);
      if (trigger.kind === 'wait') waits.set(runKey(row.journey_id, row.point_uuid), trigger);
    }
    if (waits.size === 0) return 0;
    const journeyIds = [...new Set(triggers.filter((t) => t.kind === 'wait').map((t) => t.journey_id))];
    const waiting = await trx
      .selectFrom('runs')
      .select(['id', 'journey_id', 'point_uuid'])
      .where('journey_id', 'in', journeyIds)
      .where('user_id', '=', event.userId)
      .where('state', '=', sql.lit('active'))
      .execute();
    const moves = new Map<number, { journeyId: number; from: string; to: string }>();
    for (const run of waiting) {
      const journeyId = Number(run.journey_id);
      const trigger = waits.get(runKey(journeyId, run.point_uuid));
      const to = trigger && wakeTarget(trigger, event);
      if (to !== undefined) moves.set(Number(run.id), { journeyId, from: run.point_uuid, to });
    }
    if (moves.size === 0) return 0;
    const caseOfId = (pick: (move: { from: string; to: string }) => string) =>
      sql<string>`CASE id ${sql.join(
        [...moves].map(([id, move]) => sql`WHEN ${id} THEN ${pick(move)}`),
        sql` `,
      )} END`;
    // Compare-and-set: still at the wait point, active, and not held under a live lease.
    const moved = await trx
      .updateTable('runs')
      .set({
        point_uuid: caseOfId((move) => move.to),
        due_at: event.now,
        updated_at: event.now,
        waiting_point: null,
        lease_owner: null,
        lease_expires_at: null,
      })
      .where('id', 'in', [...moves.keys()])
      .where(
        'point_uuid',
        '=',
        caseOfId((move) => move.from),
      )
      .where('state', '=', sql.lit('active'))
      .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', event.now)]))
      .returning('id')
      .execute();
    for (const { id } of moved) {
      const move = moves.get(Number(id)) as { journeyId: number; from: string; to: string };
      counts.push({ journeyId: move.journeyId, pointUuid: move.from, entered: 0, passed: 1 });
      counts.push({ journeyId: move.journeyId, pointUuid: move.to, entered: 1, passed: 0 });
    }
    return moved.length;
  }

  /**
   * Enters the user into each journey with a matching entry point, at the
   * first such point in declared order, except journeys without
   * `allow_reenter` where the user has an active run: one run insert.
   */
  private async enterJourneys(
    trx: Kysely<Database>,
    event: RecordedEvent,
    triggers: readonly TriggerRow[],
    counts: PointCountDelta[],
  ): Promise<number> {
    const entryPoints = new Map<number, TriggerRow>();
    for (const row of triggers) {
      if (row.kind !== 'entry' || entryPoints.has(row.journey_id)) continue;
      const trigger = this.compile(row);
      if (trigger.kind === 'entry' && entersAt(trigger, event)) entryPoints.set(row.journey_id, row);
    }
    const exclusive = [...entryPoints.values()].filter((row) => !isSet(row.allow_reenter)).map((row) => row.journey_id);
    for (const journeyId of await this.journeysWithActiveRun(trx, exclusive, event.userId)) entryPoints.delete(journeyId);
    if (entryPoints.size === 0) return 0;
    await enterUserIntoJourneys(trx, this.backend.dialect, {
      applicationId: event.applicationId,
      userId: event.userId,
      attributes: JSON.stringify(eventAttributeValues(event.attributes)),
      now: event.now,
      points: [...entryPoints].map(([journeyId, row]) => ({ journeyId, pointUuid: row.point_uuid })),
    });
    for (const [journeyId, row] of entryPoints) {
      counts.push({ journeyId, pointUuid: row.point_uuid, entered: 1, passed: 0 });
    }
    return entryPoints.size;
  }

  /**
   * Which of the journeys the user has an active run in. On Postgres it
   * first takes a transaction advisory lock per (journey, user), in key
   * order, so that concurrent events of one user enter each journey once.
   */
  private async journeysWithActiveRun(trx: Kysely<Database>, journeyIds: number[], userId: string): Promise<number[]> {
    if (journeyIds.length === 0) return [];
    if (this.backend.dialect === 'postgres') {
      const keys = journeyIds.map((journeyId) => `journey-entry:${journeyId}:${userId}`).sort();
      await sql`
        SELECT pg_advisory_xact_lock(hashtextextended(k, 0))
        FROM (SELECT k FROM unnest(${keys}::text[]) AS k ORDER BY k) ordered`.execute(trx);
    }
    const rows = await trx
      .selectFrom('runs')
      .select('journey_id')
      .distinct()
      .where('journey_id', 'in', journeyIds)
      .where('user_id', '=', userId)
      .where('state', '=', sql.lit('active'))
      .execute();
    return rows.map((row) => Number(row.journey_id));
  }

  private compile(row: TriggerRow): CompiledTrigger {
    let trigger = this.compiled.get(row.point);
    if (!trigger) {
      if (this.compiled.size >= MAX_CACHED_TRIGGERS) this.compiled.clear();
      trigger = compileTrigger(JSON.parse(row.point) as Point);
      this.compiled.set(row.point, trigger);
    }
    return trigger;
  }
}

function runKey(journeyId: number, pointUuid: string): string {
  return `${journeyId}\u0000${pointUuid}`;
}
