import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { ClaimSource, EntryWorkerContext, EntryWorkerMetrics } from './entry/claim-source.js';
import { WorkerLoop, type NextPass } from './worker-loop.js';
import { RequestClaims } from './entry/requests.js';
import { SegmentClaims } from './entry/segments.js';

export type { EntryWorkerMetrics } from './entry/claim-source.js';

interface CommonOptions {
  readonly logger: Logger;
  /** Names this worker in leases; unique per process by default. */
  readonly workerId?: string;
  /** Users entered per transaction. */
  readonly batchSize?: number;
  /** How long a claim lasts without renewal; every batch renews it. */
  readonly leaseMs?: number;
  /** Longest sleep between looks for work when no wake-up arrives. */
  readonly pollIntervalMs?: number;
  /** Claims of one request or segment entry before it is marked failed. */
  readonly maxAttempts?: number;
  readonly clock?: () => number;
}

export type EntryWorkerOptions =
  | (CommonOptions & {
      /** Start-by-API requests (the default). */
      readonly claims?: 'requests';
      /** Shortest time between the starts of two claims: acceptances arriving meanwhile are claimed together. */
      readonly claimSpacingMs?: number;
      /** Told of each request whose lease expired and was taken by another worker. */
      readonly metrics?: EntryWorkerMetrics;
    })
  | (CommonOptions & {
      /** The segment entries of started journeys. */
      readonly claims: 'segments';
    });

/**
 * A batch of 10,000 keeps each SQLite write transaction (which blocks the
 * process's event loop while it runs) near 50 ms, and costs Postgres one
 * round trip per 10,000 users; larger batches gained under 5% in the
 * 1M-user benchmark (docs/start-by-api.md).
 */
const DEFAULT_BATCH_SIZE = 10_000;
const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_POLL_INTERVAL_MS = 1_000;
/**
 * Under a stream of acceptances each commit of a few woke a claim of its own,
 * ~10 requests each, and the claim's transaction and commit cost as much as
 * entering them. Claims at least 25 ms apart took ~55 requests each and cut
 * the server's CPU per request by about a sixth (docs/start-by-api.md); an
 * entry waits at most that long, and not at all after a quiet spell or
 * while claims come back full. Segment entries are claimed one at a time,
 * without spacing.
 */
const DEFAULT_CLAIM_SPACING_MS = 25;
const DEFAULT_MAX_ATTEMPTS = 5;

/** How each claim source names its workers and its loop's failures. */
const NAMES = {
  requests: { workerId: 'entry', worker: 'entry worker', claimFailed: 'entry worker could not claim a request' },
  segments: {
    workerId: 'segment',
    worker: 'segment entry worker',
    claimFailed: 'segment entry worker could not claim an entry',
  },
} as const;

/**
 * Turns staged entries into runs: accepted Start-by-API requests, or the
 * segment entries of started journeys (`claims`), each claimed under a lease,
 * its audience staged once, then entered batch by batch. A worker that dies
 * leaves a lease that expires; the next worker to claim the entry continues
 * from what is still staged.
 *
 * It runs on the one WorkerLoop. Wake-ups: its claim source wakes it when
 * work may have arrived (in this process, and on Postgres in any process
 * through LISTEN/NOTIFY); otherwise it looks again after the source's idle
 * time, which is also how expired leases are found. A claim that took
 * something is followed by the next no sooner than `claimSpacingMs` after it
 * began, unless it came back full.
 */
export class EntryWorker {
  readonly workerId: string;
  private readonly claimSpacingMs: number;
  private readonly claims: ClaimSource;
  private readonly loop: WorkerLoop;
  private stopping = false;

  constructor(store: Store, options: EntryWorkerOptions) {
    const names = NAMES[options.claims ?? 'requests'];
    const logger = options.logger;
    this.workerId = options.workerId ?? `${names.workerId}:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const clock = options.clock ?? Date.now;
    const context: EntryWorkerContext = {
      store,
      workerId: this.workerId,
      logger,
      batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      pollIntervalMs,
      clock,
      metrics: options.claims === 'segments' ? undefined : options.metrics,
      stopping: () => this.stopping,
      leaseTerms: () => ({ now: clock(), leaseMs }),
    };
    if (options.claims === 'segments') {
      this.claimSpacingMs = 0;
      this.claims = new SegmentClaims(context);
    } else {
      this.claimSpacingMs = options.claimSpacingMs ?? DEFAULT_CLAIM_SPACING_MS;
      this.claims = new RequestClaims(context);
    }
    this.loop = new WorkerLoop({
      name: names.worker,
      pass: () => this.pass(),
      pollIntervalMs,
      // A pass throws when the database is unreachable or the claim itself failed.
      logger,
      failureMessage: names.claimFailed,
      wakeSignal: this.claims.wakeSignal,
    });
  }

  /** Starts claiming; resolves once the worker listens for its wake-ups. */
  start(): Promise<void> {
    return this.loop.start();
  }

  /** Finishes the batch in hand, gives its entry back and resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop.stop();
  }

  /** Processes entries until none can be claimed; returns how many it took. For tests and benchmarks. */
  async drain(): Promise<number> {
    let processed = 0;
    for (let taken = await this.processNext(); taken > 0; taken = await this.processNext()) processed += taken;
    return processed;
  }

  /** Claims what is due and takes each as far as it can go; returns how many it claimed. */
  processNext(): Promise<number> {
    return this.claims.processNext();
  }

  /**
   * One claim. A claim that took nothing sleeps for the source's idle time;
   * one that came back full is followed at once; any other waits out the
   * claim spacing, counted from when it began.
   */
  private async pass(): Promise<NextPass> {
    const claimedAt = performance.now();
    const taken = await this.processNext();
    if (taken === 0) return { kind: 'sleep', ms: await this.claims.idleMs() };
    if (taken >= this.claims.claimLimit) return { kind: 'again' };
    return { kind: 'pause', ms: claimedAt + this.claimSpacingMs - performance.now() };
  }
}
