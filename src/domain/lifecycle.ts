import type { JourneyStatus } from './journey.js';
import { err, ok, type Result } from './result.js';

/**
 * A journey's lifecycle (docs/journeys.md has the diagram and the reasons):
 *
 *   start   DRAFT | PAUSED     → RUNNING   (the graph is validated first)
 *   pause   RUNNING            → PAUSED
 *   finish  RUNNING | PAUSED   → FINISHED
 *   draft   PAUSED             → DRAFT
 *   archive DRAFT | FINISHED   → ARCHIVED
 *
 * ARCHIVED is terminal. Anything not in this table is refused, including an
 * action that would leave the status unchanged (start on a running journey).
 */
export type LifecycleAction = 'start' | 'pause' | 'finish' | 'draft' | 'archive';

export interface TransitionRule {
  readonly from: readonly JourneyStatus[];
  readonly to: JourneyStatus;
}

export const TRANSITIONS: Readonly<Record<LifecycleAction, TransitionRule>> = {
  start: { from: ['STATUS_DRAFT', 'STATUS_PAUSED'], to: 'STATUS_RUNNING' },
  pause: { from: ['STATUS_RUNNING'], to: 'STATUS_PAUSED' },
  finish: { from: ['STATUS_RUNNING', 'STATUS_PAUSED'], to: 'STATUS_FINISHED' },
  draft: { from: ['STATUS_PAUSED'], to: 'STATUS_DRAFT' },
  archive: { from: ['STATUS_DRAFT', 'STATUS_FINISHED'], to: 'STATUS_ARCHIVED' },
};

export const LIFECYCLE_ACTIONS = Object.keys(TRANSITIONS) as LifecycleAction[];

/** Where `action` takes a journey in `current`, or why it cannot (naming both states). */
export function planTransition(
  action: LifecycleAction,
  current: JourneyStatus,
): Result<{ readonly from: JourneyStatus; readonly to: JourneyStatus }> {
  const rule = TRANSITIONS[action];
  if (rule.from.includes(current)) return ok({ from: current, to: rule.to });
  return err(`cannot ${action} a journey in ${current}: ${action} moves a journey from ${rule.from.join(' or ')} to ${rule.to}`);
}

/** Title, params and points may be replaced only in these statuses. */
export const EDITABLE_STATUSES: readonly JourneyStatus[] = ['STATUS_DRAFT', 'STATUS_PAUSED'];

/** Why a journey in `current` cannot be edited, or undefined when it can. */
export function editRefusal(current: JourneyStatus): string | undefined {
  if (EDITABLE_STATUSES.includes(current)) return undefined;
  return `cannot edit a journey in ${current}: only a journey in ${EDITABLE_STATUSES.join(' or ')} can be edited`;
}

/** A journey may be deleted only in these statuses: nothing of it runs any more, or ever did. */
export const DELETABLE_STATUSES: readonly JourneyStatus[] = ['STATUS_DRAFT', 'STATUS_ARCHIVED'];

/** Why a journey in `current` cannot be deleted, or undefined when it can. */
export function deleteRefusal(current: JourneyStatus): string | undefined {
  if (DELETABLE_STATUSES.includes(current)) return undefined;
  return `cannot delete a journey in ${current}: only a journey in ${DELETABLE_STATUSES.join(' or ')} can be deleted (finish and archive it first)`;
}
