import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Runs that entered and passed one point, to add to its counters. */
export interface PointCountDelta {
  readonly journeyId: number;
  readonly pointUuid: string;
  readonly entered: number;
  readonly passed: number;
}

/**
 * Adds `entered` / `passed` to journey_point_counters in one upsert, through
 * the transaction that moved the runs, so the counters never disagree with
 * the moves. Deltas for the same point are summed first.
 */
export async function addToPointCounters(executor: Kysely<Database>, deltas: readonly PointCountDelta[]): Promise<void> {
  const byPoint = new Map<string, { journey_id: number; point_uuid: string; entered: number; passed: number }>();
  for (const delta of deltas) {
    if (delta.entered === 0 && delta.passed === 0) continue;
    const key = `${delta.journeyId}\u0000${delta.pointUuid}`;
    const row = byPoint.get(key);
    if (row) {
      row.entered += delta.entered;
      row.passed += delta.passed;
    } else {
      byPoint.set(key, {
        journey_id: delta.journeyId,
        point_uuid: delta.pointUuid,
        entered: delta.entered,
        passed: delta.passed,
      });
    }
  }
  if (byPoint.size === 0) return;
  await executor
    .insertInto('journey_point_counters')
    .values([...byPoint.values()].map((row) => ({ ...row, sent: 0, failed: 0 })))
    .onConflict((oc) =>
      oc.columns(['journey_id', 'point_uuid']).doUpdateSet((eb) => ({
        entered: eb('journey_point_counters.entered', '+', eb.ref('excluded.entered')),
        passed: eb('journey_point_counters.passed', '+', eb.ref('excluded.passed')),
      })),
    )
    .execute();
}
