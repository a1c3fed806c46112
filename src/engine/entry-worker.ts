import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { ClaimSource, EntryWorkerContext, EntryWorkerMetrics } from './entry/claim-source.js';
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
 * Wake-ups: its claim source wakes it when work may have arrived (in this
 * process, and on Postgres in any process through LISTEN/NOTIFY); otherwise
 * it looks again after the source's idle time, which is also how expired
 * leases are found. A claim that took something is followed by the next no
 * sooner than `claimSpacingMs` after it began, unless it came back full.
 */
export class EntryWorker {
  readonly workerId: string;
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private readonly claimSpacingMs: number;
  private readonly names: (typeof NAMES)[keyof typeof NAMES];
  private readonly claims: ClaimSource;

  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private stopPause: (() => void) | undefined;
  private unwatch: (() => Promise<void>) | undefined;

  constructor(store: Store, options: EntryWorkerOptions) {
    const source = options.claims ?? 'requests';
    this.names = NAMES[source];
    this.logger = options.logger;
    this.workerId = options.workerId ?? `${this.names.workerId}:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const clock = options.clock ?? Date.now;
    const context: EntryWorkerContext = {
      store,
      workerId: this.workerId,
      logger: this.logger,
      batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      pollIntervalMs: this.pollIntervalMs,
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
  }

  start(): void {
    if (this.loop) throw new Error(`${this.names.worker} already started`);
    this.loop = this.run();
  }

  /** Finishes the batch in hand, gives its entry back and resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopPause?.();
    this.wakeUp();
    await this.loop;
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

  private async run(): Promise<void> {
    let nextClaimAt = 0;
    while (!this.stopping) {
      try {
        await this.watch();
        await this.pause(nextClaimAt - performance.now());
        if (this.stopping) break;
        const claimedAt = performance.now();
        this.woken = false;
        const taken = await this.processNext();
        nextClaimAt = taken === 0 || taken >= this.claims.claimLimit ? 0 : claimedAt + this.claimSpacingMs;
        if (taken === 0) await this.sleep(await this.claims.idleMs());
      } catch (error) {
        // The database is unreachable or the claim itself failed: wait and try again.
        this.logger.error({ err: error }, this.names.claimFailed);
        await this.sleep(this.pollIntervalMs);
      }
    }
    await this.unwatch?.();
    this.unwatch = undefined;
  }

  private async watch(): Promise<void> {
    if (this.unwatch) return;
    this.unwatch = await this.claims.watch(
      () => this.wakeUp(),
      (error) => {
        this.logger.warn({ err: error }, `${this.names.worker} lost its LISTEN connection; polling until it is back`);
        const broken = this.unwatch;
        this.unwatch = undefined;
        void broken?.();
      },
    );
  }

  private wakeUp(): void {
    this.woken = true;
    this.wake?.();
  }

  /** Waits `ms` unless stopping; wake-ups meanwhile are kept for after it. */
  private pause(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.stopPause = undefined;
        resolve();
      }, ms);
      this.stopPause = () => {
        clearTimeout(timer);
        this.stopPause = undefined;
        resolve();
      };
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
