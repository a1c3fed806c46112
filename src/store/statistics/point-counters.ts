import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

const POINT_COUNTERS = ['entered', 'passed', 'sent', 'failed'] as const;
type PointCounter = (typeof POINT_COUNTERS)[number];

/** What to add to one point's counters; a counter left out adds nothing. */
export type PointCountDelta = {
  readonly journeyId: number;
  readonly pointUuid: string;
} & { readonly [counter in PointCounter]?: number };

type PointCounterRow = { journey_id: number; point_uuid: string } & Record<PointCounter, number>;

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
  await executor
    .insertInto('journey_point_counters')
    .values([...byPoint.values()])
    .onConflict((oc) =>
      oc.columns(['journey_id', 'point_uuid']).doUpdateSet((eb) => ({
        entered: eb('journey_point_counters.entered', '+', eb.ref('excluded.entered')),
        passed: eb('journey_point_counters.passed', '+', eb.ref('excluded.passed')),
        sent: eb('journey_point_counters.sent', '+', eb.ref('excluded.sent')),
        failed: eb('journey_point_counters.failed', '+', eb.ref('excluded.failed')),
      })),
    )
    .execute();
}
