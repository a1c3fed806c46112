import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { apiEntryPointOf } from '../domain/start-request.js';
import type { Logger } from '../logger.js';
import type { AudienceQuery, ClaimedEntryRequest } from '../store/entry.js';
import type { JourneyStatus } from '../store/schema.js';
import type { Store } from '../store/store.js';

export interface EntryWorkerOptions {
  readonly logger: Logger;
  /** Names this worker in leases; unique per process by default. */
  readonly workerId?: string;
  /** Users entered per transaction. */
  readonly batchSize?: number;
  /** How long a claim lasts without renewal; every batch renews it. */
  readonly leaseMs?: number;
  /** Longest sleep between looks at the queue when no wake-up arrives. */
  readonly pollIntervalMs?: number;
  /** Claims of one request before it is marked failed. */
  readonly maxAttempts?: number;
  readonly clock?: () => number;
}

/**
 * A batch of 10,000 keeps each SQLite write transaction (which blocks the
 * process's event loop while it runs) near 50 ms, and costs Postgres one
 * round trip per 10,000 users; larger batches gained under 5% in the
 * 1M-user benchmark (docs/start-by-api.md).
 */
const DEFAULT_BATCH_SIZE = 10_000;
const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_POLL_INTERVAL_MS = 1_000;
const DEFAULT_MAX_ATTEMPTS = 5;
const TERMINAL_STATUSES: readonly JourneyStatus[] = ['STATUS_FINISHED', 'STATUS_ARCHIVED'];

/**
 * Turns accepted Start-by-API requests into runs. One request at a time:
 * claim it under a lease, stage its audience once, then enter the staged
 * users batch by batch. A worker that dies leaves a lease that expires; the
 * next worker to claim the request continues from what is still staged.
 *
 * Wake-ups: an acceptance in this process wakes the worker at once, on
 * Postgres so does one in any process (LISTEN/NOTIFY); otherwise it looks at
 * the queue every `pollIntervalMs`, which is also how expired leases are found.
 */
export class EntryWorker {
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
    options: EntryWorkerOptions,
  ) {
    this.logger = options.logger;
    this.workerId = options.workerId ?? `entry:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    if (this.loop) throw new Error('entry worker already started');
    this.loop = this.run();
  }

  /** Finishes the batch in hand, gives its request back to the queue and resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp();
    await this.loop;
  }

  /** Processes requests until none can be claimed; returns how many it took. For tests and benchmarks. */
  async drain(): Promise<number> {
    let processed = 0;
    while (await this.processNext()) processed++;
    return processed;
  }

  /** Claims one request and takes it as far as it can go; false when there was none to claim. */
  async processNext(): Promise<boolean> {
    const request = await this.store.entry.claimNext(this.workerId, { now: this.clock(), leaseMs: this.leaseMs });
    if (!request) return false;
    try {
      await this.process(request);
    } catch (error) {
      const message = (error as Error).message;
      this.logger.error({ err: error, request: request.uuid, attempt: request.attempts }, 'entry request failed');
      if (request.attempts >= this.maxAttempts) {
        await this.store.entry.fail(request, `entry failed after ${request.attempts} attempts: ${message}`, this.clock());
      } else {
        await this.store.entry.release(request);
      }
    }
    return true;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.watch();
        this.woken = false;
        if (!(await this.processNext())) await this.sleep(this.pollIntervalMs);
      } catch (error) {
        // The database is unreachable or the claim itself failed: wait and try again.
        this.logger.error({ err: error }, 'entry worker could not claim a request');
        await this.sleep(this.pollIntervalMs);
      }
    }
    await this.unwatch?.();
    this.unwatch = undefined;
  }

  private async process(request: ClaimedEntryRequest): Promise<void> {
    const stored = await this.store.journeys.findByUuid(request.journeyUuid);
    const status = stored?.journey.info.status ?? 'STATUS_ARCHIVED';
    if (!stored || status !== 'STATUS_RUNNING') return this.notRunning(request, status);
    const entry = apiEntryPointOf(stored.journey);
    if (!entry.ok || entry.value.uuid !== request.pointUuid) {
      await this.store.entry.fail(request, 'the journey no longer has this API entry point', this.clock());
      return;
    }

    if (!request.audienceResolved) {
      const audience = await this.audienceOf(request);
      if (!audience.ok) {
        await this.store.entry.fail(request, audience.error, this.clock());
        return;
      }
      const resolved = await this.store.entry.resolveAudience(request, audience.query, this.leaseTerms());
      if (resolved.kind === 'lease-lost') return this.leaseLost(request);
    }

    const allowReenter = stored.journey.info.params.allow_reenter === true;
    for (;;) {
      const batch = await this.store.entry.enterBatch(request, {
        ...this.leaseTerms(),
        batchSize: this.batchSize,
        allowReenter,
      });
      if (batch.kind === 'lease-lost') return this.leaseLost(request);
      if (batch.kind === 'journey-not-running') return this.notRunning(request, batch.status);
      if (!batch.remaining) break;
      if (this.stopping) return this.store.entry.release(request);
      // Let HTTP requests in between batches: on SQLite each batch holds the event loop while it runs.
      await yieldToEventLoop();
    }
    if (!(await this.store.entry.finish(request, this.clock()))) this.leaseLost(request);
  }

  private async audienceOf(
    request: ClaimedEntryRequest,
  ): Promise<{ ok: true; query: AudienceQuery } | { ok: false; error: string }> {
    if (request.selectorKind !== 'filter') return { ok: true, query: { kind: request.selectorKind } };
    throw new Error('filter audiences need the seglang compiler');
  }

  /** A finished or archived journey fails the request; a paused one (or one back in draft) holds it queued. */
  private async notRunning(request: ClaimedEntryRequest, status: JourneyStatus): Promise<void> {
    if (TERMINAL_STATUSES.includes(status)) {
      await this.store.entry.fail(request, `the journey is ${status}`, this.clock());
    } else {
      await this.store.entry.release(request);
    }
  }

  private leaseLost(request: ClaimedEntryRequest): void {
    this.logger.warn({ request: request.uuid }, 'entry request lease lost to another worker');
  }

  private leaseTerms() {
    return { now: this.clock(), leaseMs: this.leaseMs };
  }

  private async watch(): Promise<void> {
    if (this.unwatch) return;
    this.unwatch = await this.store.entry.watchAcceptances(
      () => this.wakeUp(),
      (error) => {
        this.logger.warn({ err: error }, 'entry worker lost its LISTEN connection; polling until it is back');
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
