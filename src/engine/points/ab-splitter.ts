import type { PointOf } from '../../domain/journey.js';
import { assignBranch, compileAbSplit } from '../../domain/ab-split.js';
import type { PointContext, PreparedPoint } from './types.js';

/** AB_SPLITTER: each run leaves by its user's branch, a pure function of (journey, point, user). */
export function prepareAbSplitter({ journey }: PointContext, point: PointOf<'POINT_TYPE_AB_SPLITTER'>): PreparedPoint {
  const split = journey.rule(point, 'ab', () => {
    const compiled = compileAbSplit(journey.uuid, point.uuid, point.point_data.ab_splitter.branches);
    if (!compiled.ok) throw new Error(`point ${point.uuid}: ${compiled.error}`);
    return compiled.value;
  });
  return {
    execute: async (runs) => ({
      decisions: runs.map((run) => ({ kind: 'leave', runId: run.id, output: assignBranch(split, run.userId) })),
    }),
  };
}
