import { writeSync } from 'node:fs';

/**
 * Test-only fault injection (docs/deployment.md, "Fault tests"): named points
 * inside the work where a `journeyd serve` started with JOURNEYD_FAULT kills
 * itself with SIGKILL, so a fault test kills a process at a known moment
 * instead of polling to catch it there. It sits at the top of src/ so that
 * store and engine code may both mark points.
 *
 * JOURNEYD_FAULT="<point>:<n>" arms one point: the process SIGKILLs itself
 * the n-th time it reaches it (n ≥ 1), after printing a line that names the
 * point to stderr. Unset, every point costs one comparison.
 */
export const FAULT_POINTS = [
  /** Inside a scheduler batch's transaction, its runs claimed and decided, before the commit. */
  'scheduler.batch.before-commit',
  /** Right after a scheduler batch committed. */
  'scheduler.batch.after-commit',
  /** The dispatcher has providers' answers in hand and is about to record them. */
  'dispatcher.outcomes.before-record',
  /** Right after the dispatcher's outcomes committed. */
  'dispatcher.outcomes.after-record',
  /** Inside a Start-by-API entry batch's transaction, its runs inserted, before the commit. */
  'entry.batch.before-commit',
  /** Right after a Start-by-API entry batch committed. */
  'entry.batch.after-commit',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

/** A parsed JOURNEYD_FAULT: which point kills the process, and at which arrival there. */
export interface FaultArming {
  readonly point: FaultPoint;
  readonly arrival: number;
}

/** The line a process prints to stderr just before it kills itself at `point`; tests look for it. */
export function faultPointLine(point: FaultPoint): string {
  return `journeyd: fault point ${point} reached, SIGKILL`;
}

/** Parses JOURNEYD_FAULT; undefined when unset. Throws on an unknown point or a bad count, so start-up fails. */
export function parseFaultArming(raw: string | undefined): FaultArming | undefined {
  if (raw === undefined || raw === '') return undefined;
  const match = /^([a-z.-]+):([1-9]\d*)$/.exec(raw);
  const point = FAULT_POINTS.find((known) => known === match?.[1]);
  if (!match || !point) {
    throw new Error(`JOURNEYD_FAULT must be "<point>:<n>" with n ≥ 1 and point one of ${FAULT_POINTS.join(', ')}; got "${raw}"`);
  }
  return { point, arrival: Number(match[2]) };
}

let armed: FaultPoint | undefined;
let arrivalsLeft = 0;

/** Arms the process's one fault point (once, at start-up). */
export function armFaultPoint(arming: FaultArming | undefined): void {
  armed = arming?.point;
  arrivalsLeft = arming?.arrival ?? 0;
}

/** Marks a fault point: a no-op unless it is the armed one, reached for the armed time. */
export function faultPoint(point: FaultPoint): void {
  if (armed !== point || --arrivalsLeft > 0) return;
  // Synchronous, so the line is in the pipe before the process is gone.
  writeSync(2, `${faultPointLine(point)}\n`);
  process.kill(process.pid, 'SIGKILL');
}
