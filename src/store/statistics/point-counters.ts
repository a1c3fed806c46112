import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../schema.js';

const POINT_COUNTERS = ['entered', 'passed', 'sent', 'failed'] as const;
export type PointCounter = (typeof POINT_COUNTERS)[number];

/** What to add to one point's counters; a counter left out adds nothing. */
export type PointCountDelta = {
  readonly journeyId: number;
  readonly pointUuid: string;
} & { readonly [counter in PointCounter]?: number };

type PointCounterRow = { journey_id: number; point_uuid: string } & Record<PointCounter, number>;

/**
 * The one upsert into journey_point_counters, in SQL both dialects run:
 * `rows` (a VALUES list or a SELECT) gives `journey_id`, `point_uuid` and
 * then `counters` in that order, and each counter is added to the point's.
 * Callers keep their own statement shape around it: a Kysely query, a
 * prepared SQLite statement, a data-modifying CTE on Postgres.
 */
export function pointCounterUpsert(counters: readonly [PointCounter, ...PointCounter[]], rows: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`INSERT INTO journey_point_counters AS c (journey_id, point_uuid, ${sql.raw(counters.join(', '))})
    ${rows}
    ON CONFLICT (journey_id, point_uuid) DO UPDATE
    SET ${sql.raw(counters.map((counter) => `${counter} = c.${counter} + excluded.${counter}`).join(', '))}`;
}

/**
 * Adds to journey_point_counters in one upsert, through the transaction that
 * moved the runs (or finished the messages), so the counters never disagree
 * with what they count. Deltas for the same point are summed first.
 */
export async function addToPointCounters(executor: Kysely<Database>, deltas: readonly PointCountDelta[]): Promise<void> {
  const byPoint = new Map<string, PointCounterRow>();
  for (const delta of deltas) {
    if (POINT_COUNTERS.every((counter) => !delta[counter])) continue;
    const key = `${delta.journeyId}\u0000${delta.pointUuid}`;
    let row = byPoint.get(key);
    if (!row) {
      row = { journey_id: delta.journeyId, point_uuid: delta.pointUuid, entered: 0, passed: 0, sent: 0, failed: 0 };
      byPoint.set(key, row);
    }
    for (const counter of POINT_COUNTERS) row[counter] += delta[counter] ?? 0;
  }
  if (byPoint.size === 0) return;
  const values = [...byPoint.values()].map(
    (row) => sql`(${row.journey_id}, ${row.point_uuid}, ${row.entered}, ${row.passed}, ${row.sent}, ${row.failed})`,
  );
  await pointCounterUpsert(POINT_COUNTERS, sql`VALUES ${sql.join(values)}`).execute(executor);
}
