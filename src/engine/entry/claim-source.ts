import type { Logger } from '../../logger.js';
import type { LeaseTerms } from '../../store/entry/types.js';
import type { Store } from '../../store/store.js';
import type { WakeSignalSource } from '../worker-loop.js';

export interface EntryWorkerMetrics {
  leaseExpired(work: 'entry_request'): void;
}

/** What a claim source reads of the worker that runs it. */
export interface EntryWorkerContext {
  readonly store: Store;
  readonly workerId: string;
  readonly logger: Logger;
  /** Users entered per transaction. */
  readonly batchSize: number;
  /** Claims of one entry before it is marked failed. */
  readonly maxAttempts: number;
  readonly pollIntervalMs: number;
  readonly clock: () => number;
  readonly metrics: EntryWorkerMetrics | undefined;
  /** True once `stop` was called: the work in hand is given back between batches. */
  readonly stopping: () => boolean;
  /** A lease from now, as every claim and batch takes or renews it. */
  readonly leaseTerms: () => LeaseTerms;
}

/** Where an entry worker finds its work: Start-by-API requests, or segment entries. */
export interface ClaimSource {
  /** Claims at once at most; a claim that came back full is followed by the next at once. */
  readonly claimLimit: number;
  /** Claims what is due and takes each as far as it can go; returns how many it took. */
  processNext(): Promise<number>;
  /** How long to sleep after a claim that took nothing, unless woken. */
  idleMs(): Promise<number>;
  /** Wakes the worker when new work may be claimable. */
  readonly wakeSignal: WakeSignalSource;
}
