import { sql, type Kysely } from 'kysely';
import type { Backend } from '../backend.js';
import type { Database } from '../schema.js';

export { addToPointCounters, type PointCountDelta } from './point-counters.js';

export interface JourneyTotals {
  /** Runs ever created in the journey. */
  readonly entered: number;
  /** Runs still active. */
  readonly inJourney: number;
  /** Runs that ended: through an exit, by finishing the journey, or dropped (drop-users). */
  readonly exited: number;
}

export interface PointCounts {
  readonly entered: number;
  /** Active runs at this point now. */
  readonly inPoint: number;
  readonly passed: number;
  readonly sent: number;
  readonly failed: number;
}

/**
 * What journey statistics (docs/engine.md) are made of. Totals and `in_point` are counted
 * from the runs themselves (index-only scans of runs_by_journey and runs_due);
 * `entered`, `passed`, `sent` and `failed` per point are counters that the
 * code moving runs increments in the same transaction as the move.
 */
export class StatisticsStore {
  constructor(private readonly backend: Backend) {}

  /**
   * The totals and every point's counts, all from one snapshot: read one by
   * one, a batch committing in between showed runs that had exited while
   * their points had not yet counted them passing. On Postgres that takes
   * REPEATABLE READ; a SQLite read transaction is one snapshot already.
   */
  async ofJourney(journeyId: number): Promise<{ totals: JourneyTotals; points: Map<string, PointCounts> }> {
    const read = this.backend.db.transaction();
    const snapshot = this.backend.dialect === 'postgres' ? read.setIsolationLevel('repeatable read') : read;
    return snapshot.execute(async (trx) => ({
      totals: await totals(trx, journeyId),
      points: await pointCounts(trx, journeyId),
    }));
  }
}

async function totals(db: Kysely<Database>, journeyId: number): Promise<JourneyTotals> {
  // One statement; each subquery is an index-only count.
  const row = await db
    .selectNoFrom((eb) => [
      eb.selectFrom('runs').select(eb.fn.countAll<number>().as('n')).where('journey_id', '=', journeyId).as('entered'),
      eb
        .selectFrom('runs')
        .select(eb.fn.countAll<number>().as('n'))
        .where('journey_id', '=', journeyId)
        .where('state', '=', sql.lit('active'))
        .as('active'),
    ])
    .executeTakeFirstOrThrow();
  const entered = Number(row.entered);
  const inJourney = Number(row.active);
  // A run is active until it exits, is ended by finish/draft, or is dropped.
  return { entered, inJourney, exited: entered - inJourney };
}

/** Counts for every point that has any; points absent from the map have none. */
async function pointCounts(db: Kysely<Database>, journeyId: number): Promise<Map<string, PointCounts>> {
  const active = await db
    .selectFrom('runs')
    .select(['point_uuid', (eb) => eb.fn.countAll<number>().as('n')])
    .where('journey_id', '=', journeyId)
    .where('state', '=', sql.lit('active'))
    .groupBy('point_uuid')
    .execute();
  const counters = await db
    .selectFrom('journey_point_counters')
    .select(['point_uuid', 'entered', 'passed', 'sent', 'failed'])
    .where('journey_id', '=', journeyId)
    .execute();
  const counts = new Map<string, PointCounts>();
  const zero: PointCounts = { entered: 0, inPoint: 0, passed: 0, sent: 0, failed: 0 };
  for (const c of counters) {
    counts.set(c.point_uuid, {
      ...zero,
      entered: Number(c.entered),
      passed: Number(c.passed),
      sent: Number(c.sent),
      failed: Number(c.failed),
    });
  }
  for (const a of active) counts.set(a.point_uuid, { ...(counts.get(a.point_uuid) ?? zero), inPoint: Number(a.n) });
  return counts;
}
