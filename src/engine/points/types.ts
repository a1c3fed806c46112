import type { Point } from '../../domain/journey.js';
import type { Logger } from '../../logger.js';
import type { BatchAccess, BatchMessage, DueRun, TagWrite, UnrenderedMessage } from '../../store/runs/index.js';
import type { Store } from '../../store/store.js';
import type { Channel } from '../../domain/messages.js';
import type { JourneyPlan } from '../journey-plan.js';
import type { MessageRenderer } from '../rendering/message-renderer.js';

/** What a point decided for one run of its batch. */
export type RunDecision =
  /** Leave the point by this output. */
  | { readonly kind: 'leave'; readonly runId: number; readonly output: string }
  /** Stay at the point until this instant (a wait has begun). */
  | { readonly kind: 'wait'; readonly runId: number; readonly until: number }
  /** Leave the journey (EXIT). */
  | { readonly kind: 'exit'; readonly runId: number };

/** A point's execution for a whole batch. */
export interface PointResult {
  /** One per run, in the order of the runs given. */
  readonly decisions: readonly RunDecision[];
  /** The messages rendered, and those that could not be (each counted as failed). */
  readonly messages?: {
    readonly channel: Channel;
    readonly items: readonly BatchMessage[];
    readonly unrendered: readonly UnrenderedMessage[];
  };
  readonly tagWrites?: readonly TagWrite[];
  /** Tag writes that could not be produced (a template that failed to render). */
  readonly failed?: number;
}

/** What executing a point for a batch has: the batch's instant and its transaction. */
export interface BatchContext {
  /** The batch's "now": every due time and send time of the batch is computed from it. */
  readonly now: number;
  readonly access: BatchAccess;
}

/**
 * A point compiled for execution. Whatever needs the database outside a
 * batch's transaction (a seglang filter's tag declarations) is done when
 * preparing; `execute` then reads only through the batch.
 */
export interface PreparedPoint {
  execute(runs: readonly DueRun[], batch: BatchContext): Promise<PointResult>;
}

/** What preparing a point may use. */
export interface PointContext {
  readonly journey: JourneyPlan;
  /** The instant seglang's `daysago` counts from. */
  readonly now: number;
  readonly store: Store;
  readonly logger: Logger;
  /** Where message and tag templates render. */
  readonly renderer: MessageRenderer;
}

/** Every run of the batch leaves by one output. */
export function allLeave(runs: readonly DueRun[], output: string): RunDecision[] {
  return runs.map((run) => ({ kind: 'leave', runId: run.id, output }));
}

/** True when this execution ends a wait the run began at `point` (rather than being its arrival). */
export function endsWait(run: DueRun, point: Point): boolean {
  return run.waitingPoint === point.uuid;
}
