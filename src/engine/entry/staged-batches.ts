import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { faultPoint } from '../../fault-points.js';
import type { JourneyStatus } from '../../domain/journey.js';
import type { Store } from '../../store/store.js';

/** One staged entry (a Start-by-API request or a segment entry) as the batch loop drives it. */
export interface StagedEntrySteps {
  enterBatch(): Promise<
    | { readonly kind: 'entered'; readonly entered: number; readonly remaining: boolean }
    | { readonly kind: 'journey-not-running'; readonly status: JourneyStatus }
    | { readonly kind: 'lease-lost' }
  >;
  /** What to do when a batch finds the journey not running. */
  notRunning(status: JourneyStatus): Promise<void>;
  finish(): Promise<boolean>;
  release(): Promise<void>;
  leaseLost(): void;
}

/**
 * Enters a staged audience batch by batch until none is left, then finishes
 * the entry: the one loop both entry workers run. Planner statistics are
 * refreshed after the first batch that entered anyone of an entry larger
 * than a batch (docs/entry-and-events.md); a stopping worker gives the entry
 * back between batches.
 */
export async function enterStagedBatches(store: Store, stopping: () => boolean, steps: StagedEntrySteps): Promise<void> {
  for (let first = true; ; first = false) {
    const batch = await steps.enterBatch();
    faultPoint('entry.batch.after-commit');
    if (batch.kind === 'lease-lost') return steps.leaseLost();
    if (batch.kind === 'journey-not-running') return steps.notRunning(batch.status);
    if (!batch.remaining) break;
    if (first && batch.entered > 0) await store.runs.refreshStatistics();
    if (stopping()) return steps.release();
    // Let HTTP requests in between batches: on SQLite each batch holds the event loop while it runs.
    await yieldToEventLoop();
  }
  if (!(await steps.finish())) steps.leaseLost();
}

/** After an entry's attempt threw: fails it once its attempts are used up, else gives it back to be retried. */
export async function failOrRelease(
  attempts: number,
  maxAttempts: number,
  error: unknown,
  steps: { fail(reason: string): Promise<unknown>; release(): Promise<void> },
): Promise<void> {
  if (attempts >= maxAttempts) {
    await steps.fail(`entry failed after ${attempts} attempts: ${(error as Error).message}`);
  } else {
    await steps.release();
  }
}
