import type { Journey, JourneyParams, JourneyStatus, Point, PointDraft } from '../../domain/journey.js';
import type { Backend } from '../backend.js';
import type { Database, JourneysTable } from '../schema.js';
import type { Kysely, Selectable } from 'kysely';
import { PreparedRead } from '../sql/prepared-read.js';
import { deleteJourneyHistory } from './history.js';

/** A journey as stored, with the ids other tables refer to. */
export interface StoredJourney {
  readonly id: number;
  readonly applicationId: number;
  /** Counts the writes to this journey; `transition` compares and sets it. */
  readonly revision: number;
  readonly journey: Journey;
}

/** What Start by API reads of a journey on every request (`findEntryTarget`). */
export interface EntryTarget {
  readonly id: number;
  readonly applicationId: number;
  readonly status: JourneyStatus;
  // Points are `Point`s once validated by `start`; see the note on `Journey`.
  readonly points: readonly Point[];
}

type EntryTargetRow = Pick<Selectable<JourneysTable>, 'id' | 'application_id' | 'status' | 'points'>;

/** What a client writes on create and replace. */
export interface JourneyDefinition {
  readonly title: string;
  readonly params: JourneyParams;
  readonly points: readonly PointDraft[];
}

/** One row of the journey list. */
export interface JourneySummary {
  readonly uuid: string;
  readonly title: string;
  readonly status: JourneyStatus;
  readonly createdAt: number;
}

export interface JourneyPage {
  /** Journeys across all the requested applications, not only on this page. */
  readonly total: number;
  readonly items: readonly JourneySummary[];
}

/**
 * Runs inside a lifecycle transition's transaction, after the status has
 * changed: whatever must change with the status commits with it or not at all.
 */
export type TransitionHook = (trx: Kysely<Database>, from: StoredJourney, to: StoredJourney, now: number) => Promise<void>;

export class JourneyStore {
  /** Built and compiled once: `findByUuid` and `findEntryTarget` run on every Start-by-API request. */
  private readonly byUuid: PreparedRead<Selectable<JourneysTable>>;
  private readonly entryTargetByUuid: PreparedRead<EntryTargetRow>;

  constructor(
    private readonly backend: Backend,
    private readonly transitionHooks: readonly TransitionHook[] = [],
  ) {
    const byUuid = backend.db.selectFrom('journeys').where('uuid', '=', '');
    this.byUuid = new PreparedRead(backend, byUuid.selectAll().compile());
    this.entryTargetByUuid = new PreparedRead(backend, byUuid.select(['id', 'application_id', 'status', 'points']).compile());
  }

  async findByUuid(uuid: string): Promise<StoredJourney | undefined> {
    const row = await this.byUuid.first(uuid);
    return row && toStoredJourney(row);
  }

  /**
   * The part of a journey that Start by API checks a request against. Reading
   * four columns instead of ten, and parsing only the points, halves the read
   * (better-sqlite3 builds each row's object a column at a time).
   */
  async findEntryTarget(uuid: string): Promise<EntryTarget | undefined> {
    const row = await this.entryTargetByUuid.first(uuid);
    return (
      row && {
        id: row.id,
        applicationId: row.application_id,
        status: row.status,
        points: JSON.parse(row.points) as Point[],
      }
    );
  }

  /** Inserts a new journey in STATUS_DRAFT. */
  async create(uuid: string, applicationId: number, definition: JourneyDefinition, now = Date.now()): Promise<StoredJourney> {
    const row = await this.backend.db
      .insertInto('journeys')
      .values({
        uuid,
        application_id: applicationId,
        status: 'STATUS_DRAFT',
        ...definitionColumns(definition),
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toStoredJourney(row);
  }

  /**
   * Replaces title, params and points if, at the moment of writing, the
   * journey's status is one of `editable`; undefined otherwise (the check and
   * the write are one statement, so a concurrent `start` cannot slip between).
   */
  async replace(
    id: number,
    definition: JourneyDefinition,
    editable: readonly JourneyStatus[],
    now = Date.now(),
  ): Promise<StoredJourney | undefined> {
    const row = await this.backend.db
      .updateTable('journeys')
      .set((eb) => ({ ...definitionColumns(definition), updated_at: now, revision: eb('revision', '+', 1) }))
      .where('id', '=', id)
      .where('status', 'in', editable)
      .returningAll()
      .executeTakeFirst();
    return row && toStoredJourney(row);
  }

  /**
   * The one way a journey changes status: moves `current` to `to` only if it
   * is still exactly as read (same status, same revision), so two concurrent
   * transitions cannot both win and `start` never runs points it did not
   * validate. Undefined when something else wrote first. The transition
   * hooks run in the same transaction.
   */
  async transition(current: StoredJourney, to: JourneyStatus, now = Date.now()): Promise<StoredJourney | undefined> {
    return this.backend.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('journeys')
        .set((eb) => ({ status: to, updated_at: now, revision: eb('revision', '+', 1) }))
        .where('id', '=', current.id)
        .where('status', '=', current.journey.info.status)
        .where('revision', '=', current.revision)
        .returningAll()
        .executeTakeFirst();
      if (!row) return undefined;
      const moved = toStoredJourney(row);
      for (const hook of this.transitionHooks) await hook(trx, current, moved, now);
      return moved;
    });
  }

  /**
   * Deletes the journey and everything it left behind (runs, entry requests,
   * counters, messages and their deliveries, event triggers, segment entries
   * and stages) in one transaction, if it is still exactly as read and in one
   * of `deletable`; false when something else wrote first or it is not.
   */
  async delete(current: StoredJourney, deletable: readonly JourneyStatus[]): Promise<boolean> {
    return this.backend.db.transaction().execute(async (trx) => {
      // Taking the row first (revision + 1) holds off a concurrent start until the delete commits.
      const taken = await trx
        .updateTable('journeys')
        .set((eb) => ({ revision: eb('revision', '+', 1) }))
        .where('id', '=', current.id)
        .where('revision', '=', current.revision)
        .where('status', 'in', deletable)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 0) return false;
      await deleteJourneyHistory(trx, this.backend.dialect, current.id);
      await trx.deleteFrom('journeys').where('id', '=', current.id).execute();
      return true;
    });
  }

  /** Journeys of the given applications, newest first; only those in `status` when it is given. */
  async listForApplications(
    applicationIds: readonly number[],
    page: { readonly limit: number; readonly offset: number },
    status?: JourneyStatus,
  ): Promise<JourneyPage> {
    if (applicationIds.length === 0) return { total: 0, items: [] };
    const inApplications = this.backend.db
      .selectFrom('journeys')
      .where('application_id', 'in', applicationIds)
      .$if(status !== undefined, (query) => query.where('status', '=', status as JourneyStatus));
    const { total } = await inApplications.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
    const rows = await inApplications
      .select(['uuid', 'title', 'status', 'created_at'])
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return {
      total: Number(total),
      items: rows.map((row) => ({ uuid: row.uuid, title: row.title, status: row.status, createdAt: row.created_at })),
    };
  }
}

function definitionColumns(definition: JourneyDefinition): Pick<JourneysTable, 'title' | 'params' | 'points'> {
  return {
    title: definition.title,
    params: JSON.stringify(definition.params),
    points: JSON.stringify(definition.points),
  };
}

function toStoredJourney(row: Selectable<JourneysTable>): StoredJourney {
  return {
    id: row.id,
    applicationId: row.application_id,
    revision: row.revision,
    journey: {
      info: {
        uuid: row.uuid,
        title: row.title,
        status: row.status,
        created_at: new Date(row.created_at).toISOString(),
        updated_at: new Date(row.updated_at).toISOString(),
        params: JSON.parse(row.params) as JourneyParams,
      },
      // Points are `Point`s once validated by `start`; see the note on `Journey`.
      points: JSON.parse(row.points) as Point[],
    },
  };
}
