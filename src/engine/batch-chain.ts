import type { Point } from '../domain/journey.js';
import type { BatchAccess, BatchWrite, DueRun, PointCounts, PointMessages, RunMove } from '../store/runs/index.js';
import type { JourneyPlan } from './journey-plan.js';
import type { PreparedPoint } from './points/index.js';

/**
 * Most points one batch executes in a row. `start` refuses loops that do not
 * pass through a waiting point, so a chain ends at a wait or an exit long
 * before this; the bound only keeps a batch (and its transaction) finite
 * whatever the graph.
 */
export const MAX_POINTS_PER_BATCH = 64;

/** One point's execution within a batch. */
export interface PointExecution {
  readonly point: Point;
  /** When each run became due at the point: its due time for the first point, the batch's instant after. */
  readonly dueAts: readonly number[];
  /** Time spent executing the point (its reads, rendering and tag writes; not the batch's final writes). */
  readonly executionMs: number;
}

export interface ChainOutcome {
  readonly write: BatchWrite;
  readonly executions: readonly PointExecution[];
  /** Why tag writes were refused, once per distinct reason. */
  readonly tagErrors: readonly string[];
  /** Runs that left by an output that leads nowhere (and exited there). */
  readonly unwired: number;
}

/**
 * Executes a batch from its point onwards, set at a time: the point runs
 * once for all the batch's runs; the runs that leave it are grouped by the
 * point they arrive at, which is due for them at once, and each such point
 * runs once for its group — in the same transaction, so a run passing
 * several instant points (an entry, a split, a send, an exit) is read once
 * and written once. A run's chain stops where it waits or exits, and after
 * a SET_TAGS point (a later split's filter is compiled before a batch, so it
 * must see the tags that point declared). Every point's counters count as
 * if each point had been its own batch.
 */
export async function executeChain(input: {
  readonly plan: JourneyPlan;
  readonly prepared: ReadonlyMap<string, PreparedPoint>;
  readonly start: Point;
  readonly runs: readonly DueRun[];
  readonly now: number;
  /** Points executed in a row at most; MAX_POINTS_PER_BATCH unless the scheduler narrows a retried batch to its own point. */
  readonly maxPoints?: number;
  readonly access: BatchAccess;
}): Promise<ChainOutcome> {
  const { plan, prepared, now, access } = input;
  const moves: RunMove[] = [];
  const counts = new Map<string, { entered: number; passed: number; failed: number }>();
  const count = (pointUuid: string) => {
    let c = counts.get(pointUuid);
    if (!c) counts.set(pointUuid, (c = { entered: 0, passed: 0, failed: 0 }));
    return c;
  };
  const messages: PointMessages[] = [];
  const executions: PointExecution[] = [];
  const tagErrors = new Set<string>();
  let unwired = 0;

  let frontier = new Map<string, DueRun[]>([[input.start.uuid, [...input.runs]]]);
  for (let step = 0; frontier.size > 0; step++) {
    if (step === (input.maxPoints ?? MAX_POINTS_PER_BATCH)) {
      // Left due at the point they reached, for the next batch.
      for (const [to, runs] of frontier) for (const run of runs) moves.push({ kind: 'advance', runId: run.id, to });
      break;
    }
    const next = new Map<string, DueRun[]>();
    for (const [pointUuid, runs] of frontier) {
      const point = plan.point(pointUuid) as Point;
      const executionStarted = performance.now();
      const result = await (prepared.get(pointUuid) as PreparedPoint).execute(runs, { now, access });
      const here = count(pointUuid);
      here.failed += (result.failed ?? 0) + (result.messages?.unrendered.length ?? 0);
      if (result.messages) messages.push({ pointUuid, ...result.messages });
      if (result.tagWrites && result.tagWrites.length > 0) {
        const refused = await access.writeTags(result.tagWrites);
        here.failed += refused.refusedUsers;
        for (const reason of refused.reasons) tagErrors.add(reason);
      }
      executions.push({
        point,
        dueAts: step === 0 ? runs.map((run) => run.dueAt) : runs.map(() => now),
        executionMs: performance.now() - executionStarted,
      });
      result.decisions.forEach((decision, index) => {
        if (decision.kind === 'wait') {
          moves.push({ kind: 'hold', runId: decision.runId, at: pointUuid, until: decision.until });
          return;
        }
        here.passed++;
        const to = decision.kind === 'leave' ? plan.next(point, decision.output) : undefined;
        if (to === undefined || !plan.point(to)) {
          if (decision.kind === 'leave') unwired++;
          moves.push({ kind: 'exit', runId: decision.runId, at: pointUuid });
          return;
        }
        count(to).entered++;
        if (point.point_type === 'POINT_TYPE_SET_TAGS') {
          // Left due at the next point: a split there must be compiled after the tags this batch declared.
          moves.push({ kind: 'advance', runId: decision.runId, to });
          return;
        }
        const run = runs[index] as DueRun;
        const arrived: DueRun = { id: run.id, userId: run.userId, attributes: run.attributes, dueAt: now, waitingPoint: null };
        const group = next.get(to);
        if (group) group.push(arrived);
        else next.set(to, [arrived]);
      });
    }
    frontier = next;
  }

  return {
    write: { moves, counts: [...counts].map(([pointUuid, c]) => ({ pointUuid, ...c }) satisfies PointCounts), messages },
    executions,
    tagErrors: [...tagErrors],
    unwired,
  };
}
