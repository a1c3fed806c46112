import { DEFAULT_OUTPUT, type PointOf } from '../../domain/journey.js';
import { compileWaitEvent } from '../../domain/event-conditions.js';
import { endsWait, type PointContext, type PreparedPoint } from './types.js';

/**
 * WAIT_EVENT: on arrival the run waits until `now + timeout_seconds`. An
 * event moves it to a branch from outside the scheduler (docs/engine.md,
 * the contract); if the scheduler executes it again, no event came in time
 * and it leaves by the default output.
 */
export function prepareWaitEvent({ journey }: PointContext, point: PointOf<'POINT_TYPE_WAIT_EVENT'>): PreparedPoint {
  const timeoutMs = journey.rule(point, 'timeout', () => {
    const compiled = compileWaitEvent(point.point_data.wait_event);
    if (!compiled.ok) throw new Error(`point ${point.uuid}: ${compiled.error}`);
    return compiled.value.timeoutMs;
  });
  return {
    execute: async (runs, { now }) => ({
      decisions: runs.map((run) =>
        endsWait(run, point)
          ? { kind: 'leave', runId: run.id, output: DEFAULT_OUTPUT }
          : { kind: 'wait', runId: run.id, until: now + timeoutMs },
      ),
    }),
  };
}
