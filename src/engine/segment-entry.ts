import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { parseSeglang, SeglangError } from '../domain/seglang/index.js';
import type { Logger } from '../logger.js';
import type { JourneyStatus } from '../store/schema.js';
import { activeSegmentPoints, type ClaimedSegmentEntry } from '../store/entry/segments.js';
import type { Store } from '../store/store.js';

export interface SegmentEntryWorkerOptions {
  readonly logger: Logger;
  /** Names this worker in leases; unique per process by default. */
  readonly workerId?: string;
  /** Users entered per transaction. */
  readonly batchSize?: number;
  /** How long a claim lasts without renewal; every batch renews it. */
  readonly leaseMs?: number;
  /** Longest sleep between looks for due entries when no wake-up arrives. */
  readonly pollIntervalMs?: number;
  /** Claims of one entry before it is marked failed. */
  readonly maxAttempts?: number;
  readonly clock?: () => number;
}

/** As for Start by API: 10,000 users keep one SQLite batch near 50 ms (docs/start-by-api.md). */
const DEFAULT_BATCH_SIZE = 10_000;
const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_POLL_INTERVAL_MS = 1_000;
const DEFAULT_MAX_ATTEMPTS = 5;
/** Floor of the sleep before an entry due now: another worker may be committing its claim. */
const MIN_SLEEP_MS = 25;

/**
 * Enters the segments of started journeys (docs/entry-and-events.md). One
 * entry at a time: claim the entry due soonest under a lease, compile its
 * filter, stage its audience once, then enter the staged users batch by
 * batch. A worker that dies leaves a lease that expires; the next claim
 * continues from what is still staged.
 *
 * It sleeps until the next entry is due (a `start_at`), at most
 * `pollIntervalMs`; a journey starting with segment points wakes it at once,
 * in this process and, on Postgres, in any process.
 */
export class SegmentEntryWorker {
  readonly workerId: string;
  private readonly logger: Logger;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly maxAttempts: number;
  private readonly clock: () => number;

  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private unwatch: (() => Promise<void>) | undefined;

  constructor(
    private readonly store: Store,
    options: SegmentEntryWorkerOptions,
  ) {
    this.logger = options.logger;
    this.workerId = options.workerId ?? `segment:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    if (this.loop) throw new Error('segment entry worker already started');
    this.loop = this.run();
  }

  /** Finishes the batch in hand, gives its entry back and resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp();
    await this.loop;
  }

  /** Processes due entries until none can be claimed; returns how many it took. For tests and benchmarks. */
  async drain(): Promise<number> {
    let processed = 0;
    while (await this.processNext()) processed++;
    return processed;
  }

  /** Claims one due entry and takes it as far as it can go; false when there was none to claim. */
  async processNext(): Promise<boolean> {
    const entry = await this.store.segmentEntry.claimDue(this.workerId, this.leaseTerms());
    if (!entry) return false;
    try {
      await this.process(entry);
    } catch (error) {
      const message = (error as Error).message;
      this.logger.error({ err: error, entry: entry.id, attempt: entry.attempts }, 'segment entry failed');
      if (entry.attempts >= this.maxAttempts) {
        const reason = `entry failed after ${entry.attempts} attempts: ${message}`;
        await this.store.segmentEntry.fail(entry, reason, this.clock());
      } else {
        await this.store.segmentEntry.release(entry);
      }
    }
    return true;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.watch();
        this.woken = false;
        if (!(await this.processNext())) await this.sleep(await this.untilNextDue());
      } catch (error) {
        // The database is unreachable or the claim itself failed: wait and try again.
        this.logger.error({ err: error }, 'segment entry worker could not claim an entry');
        await this.sleep(this.pollIntervalMs);
      }
    }
    await this.unwatch?.();
    this.unwatch = undefined;
  }

  private async process(entry: ClaimedSegmentEntry): Promise<void> {
    const stored = await this.store.journeys.findByUuid(entry.journeyUuid);
    const status: JourneyStatus = stored?.journey.info.status ?? 'STATUS_ARCHIVED';
    if (!stored || status !== 'STATUS_RUNNING') return this.store.segmentEntry.release(entry);
    const point = activeSegmentPoints(stored.journey.points).find((p) => p.uuid === entry.pointUuid);
    if (!point) {
      await this.store.segmentEntry.fail(entry, 'the journey no longer has this active segment point', this.clock());
      return;
    }

    if (!entry.audienceResolved) {
      const compiled = await this.compileFilter(entry);
      if (!compiled.ok) {
        await this.store.segmentEntry.fail(entry, compiled.error, this.clock());
        return;
      }
      const staged = await this.store.segmentEntry.stageAudience(entry, compiled.userIds, this.leaseTerms());
      if (staged.kind === 'lease-lost') return this.leaseLost(entry);
    }

    for (let first = true; ; first = false) {
      const batch = await this.store.segmentEntry.enterBatch(entry, { ...this.leaseTerms(), batchSize: this.batchSize });
      if (batch.kind === 'lease-lost') return this.leaseLost(entry);
      // Paused (or back in draft): hold the entry; finished or archived: the transition has cancelled it.
      if (batch.kind === 'journey-not-running') return this.store.segmentEntry.release(entry);
      if (!batch.remaining) break;
      if (first && batch.entered > 0) await this.store.runs.refreshStatistics();
      if (this.stopping) return this.store.segmentEntry.release(entry);
      // Let HTTP requests in between batches: on SQLite each batch holds the event loop while it runs.
      await yieldToEventLoop();
    }
    if (!(await this.store.segmentEntry.finish(entry, this.clock()))) this.leaseLost(entry);
  }

  /** The filter's users in the entry's application; a filter the application's tags cannot satisfy fails the entry. */
  private async compileFilter(entry: ClaimedSegmentEntry) {
    try {
      const audience = await this.store.audience.compile(entry.applicationId, parseSeglang(entry.filter), this.clock());
      return { ok: true as const, userIds: audience.userIds };
    } catch (error) {
      if (error instanceof SeglangError) return { ok: false as const, error: `start_by_segment.filter: ${error.message}` };
      throw error;
    }
  }

  private async untilNextDue(): Promise<number> {
    const next = await this.store.segmentEntry.nextDueAt();
    if (next === undefined) return this.pollIntervalMs;
    return Math.min(this.pollIntervalMs, Math.max(MIN_SLEEP_MS, next - this.clock()));
  }

  private leaseLost(entry: ClaimedSegmentEntry): void {
    this.logger.warn({ entry: entry.id }, 'segment entry lease lost to another worker');
  }

  private leaseTerms() {
    return { now: this.clock(), leaseMs: this.leaseMs };
  }

  private async watch(): Promise<void> {
    if (this.unwatch) return;
    this.unwatch = await this.store.segmentEntry.watchStarts(() => this.wakeUp());
  }

  private wakeUp(): void {
    this.woken = true;
    this.wake?.();
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
