import { DEFAULT_OUTPUT, type PointOf } from '../../domain/journey.js';
import { compileWait, dueAfterWait, type WaitRule } from '../../domain/schedule.js';
import type { BatchAccess } from '../../store/runs/index.js';
import { endsWait, type PointContext, type PreparedPoint, type RunDecision } from './types.js';

/**
 * WAIT: on arrival each run is due at `dueAfterWait` (docs/engine-rules.md),
 * computed on its user's clock — the timezone of the user's most recently
 * updated device — for `until_time` and wall-clock `until_date`; a due time
 * that is already here passes the run on in the same batch. When the wait
 * ends the run leaves by its default output.
 */
export function prepareWait({ journey }: PointContext, point: PointOf<'POINT_TYPE_WAIT'>): PreparedPoint {
  const rule = journey.rule(point, 'wait', () => {
    const compiled = compileWait(point.point_data.wait);
    // `start` validated the point with the same function.
    if (!compiled.ok) throw new Error(`point ${point.uuid}: ${compiled.error}`);
    return compiled.value;
  });
  return {
    async execute(runs, { now, access }) {
      const arriving = runs.filter((run) => !endsWait(run, point));
      const timezones = needsTimezone(rule)
        ? await userTimezones(
            access,
            arriving.map((run) => run.userId),
          )
        : undefined;
      const decisions: RunDecision[] = runs.map((run) => {
        if (endsWait(run, point)) return { kind: 'leave', runId: run.id, output: DEFAULT_OUTPUT };
        const due = dueAfterWait(rule, now, timezones?.get(run.userId) ?? null);
        return due > now ? { kind: 'wait', runId: run.id, until: due } : { kind: 'leave', runId: run.id, output: DEFAULT_OUTPUT };
      });
      return { decisions };
    },
  };
}

function needsTimezone(rule: WaitRule): boolean {
  return rule.kind === 'until_time' || (rule.kind === 'until_date' && rule.date.kind === 'wall_clock');
}

async function userTimezones(access: BatchAccess, userIds: readonly string[]): Promise<Map<string, number | null>> {
  const devices = await access.devicesOf(userIds, 'any');
  const timezones = new Map<string, number | null>();
  for (const [userId, list] of devices) timezones.set(userId, list[0]?.timezone ?? null);
  return timezones;
}
