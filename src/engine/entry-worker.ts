import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { parseSeglang, SeglangError } from '../domain/seglang/index.js';
import { apiEntryPointOf, filterMessage } from '../domain/start-request.js';
import type { Logger } from '../logger.js';
import type { AudienceQuery, ClaimedEntryRequest, SmallEntry, SmallEntryOutcome } from '../store/entry/index.js';
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
  /** Shortest time between the starts of two claims: acceptances arriving meanwhile are claimed together. */
  readonly claimSpacingMs?: number;
  /** Claims of one request before it is marked failed. */
  readonly maxAttempts?: number;
  readonly clock?: () => number;
  /** Told of each request whose lease expired and was taken by another worker. */
  readonly metrics?: EntryWorkerMetrics;
}

export interface EntryWorkerMetrics {
  leaseExpired(work: 'entry_request'): void;
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
/**
 * Under a stream of acceptances each commit of a few woke a claim of its own,
 * ~10 requests each, and the claim's transaction and commit cost as much as
 * entering them. Claims at least 25 ms apart took ~55 requests each and cut
 * the server's CPU per request by about a sixth (docs/start-by-api.md); an
 * entry waits at most that long, and not at all after a quiet spell or
 * while claims come back full.
 */
const DEFAULT_CLAIM_SPACING_MS = 25;
const DEFAULT_MAX_ATTEMPTS = 5;
/** Requests claimed at once: enough to enter a burst of small requests in one transaction. */
const CLAIM_LIMIT = 100;
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
 * A claim that took something is followed by the next no sooner than
 * `claimSpacingMs` after it began, unless it came back full.
 */
export class EntryWorker {
  readonly workerId: string;
  private readonly logger: Logger;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly claimSpacingMs: number;
  private readonly maxAttempts: number;
  private readonly clock: () => number;
  private readonly metrics: EntryWorkerMetrics | undefined;

  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private stopPause: (() => void) | undefined;
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
    this.claimSpacingMs = options.claimSpacingMs ?? DEFAULT_CLAIM_SPACING_MS;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.clock = options.clock ?? Date.now;
    this.metrics = options.metrics;
  }

  start(): void {
    if (this.loop) throw new Error('entry worker already started');
    this.loop = this.run();
  }

  /** Finishes the batch in hand, gives its request back to the queue and resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopPause?.();
    this.wakeUp();
    await this.loop;
  }

  /** Processes requests until none can be claimed; returns how many it took. For tests and benchmarks. */
  async drain(): Promise<number> {
    let processed = 0;
    for (let taken = await this.processNext(); taken > 0; taken = await this.processNext()) processed += taken;
    return processed;
  }

  /** Claims a set of requests and takes each as far as it can go; returns how many it claimed. */
  async processNext(): Promise<number> {
    const { claimed, entered } = await this.claim();
    const small: SmallEntry[] = [];
    const large: ClaimedEntryRequest[] = [];
    for (const request of claimed) {
      const refusal = this.refusal(request);
      if (refusal) await this.guarded(request, () => this.settle(request, refusal));
      else if (this.isSmall(request)) small.push({ request, allowReenter: allowsReentry(request) });
      else large.push(request);
    }
    await this.enterSmall(small);
    for (const [index, request] of large.entries()) {
      if (this.stopping) {
        for (const waiting of large.slice(index)) await this.store.entry.release(waiting);
        break;
      }
      await this.guarded(request, () => this.enterLarge(request));
    }
    return entered + claimed.length;
  }

  /**
   * Claims, entering the small requests of running journeys in the claim's
   * transaction where the store can (SQLite). Should that fail, nothing of it
   * committed: the requests are claimed plainly and take the usual paths.
   */
  private async claim(): Promise<{ claimed: readonly ClaimedEntryRequest[]; entered: number }> {
    try {
      return await this.store.entry.claimAndEnter(this.workerId, this.leaseTerms(), CLAIM_LIMIT, (request) =>
        this.refusal(request) === undefined && this.isSmall(request) ? { allowReenter: allowsReentry(request) } : undefined,
      );
    } catch (error) {
      this.logger.warn({ err: error }, 'entering small requests at their claim failed; claiming them plainly');
      return { claimed: await this.store.entry.claim(this.workerId, this.leaseTerms(), CLAIM_LIMIT), entered: 0 };
    }
  }

  /** Ids at most one batch, not staged yet: staged, entered and finished in one go. */
  private isSmall(request: ClaimedEntryRequest): boolean {
    return request.selectorKind !== 'filter' && !request.audienceResolved && request.idCount <= this.batchSize;
  }

  /**
   * All small requests in one transaction. Should it fail, each is retried on
   * its own so that one bad request cannot hold the others back.
   */
  private async enterSmall(small: readonly SmallEntry[]): Promise<void> {
    if (small.length === 0) return;
    let outcomes: SmallEntryOutcome[];
    try {
      outcomes = await this.store.entry.enterSmall(small, this.leaseTerms());
    } catch (error) {
      for (const { request } of small) {
        // One line per request, so that each can be found by its request_uuid.
        this.requestLogger(request).warn(
          { err: error, requests: small.length },
          'entering small requests together failed; one by one',
        );
        await this.guarded(request, () => this.enterLarge(request));
      }
      return;
    }
    for (const [index, outcome] of outcomes.entries()) {
      const { request } = small[index] as SmallEntry;
      if (outcome.kind === 'lease-lost') this.leaseLost(request);
      else if (outcome.kind === 'journey-not-running') {
        await this.guarded(request, () => this.settle(request, { notRunning: outcome.status }));
      }
    }
  }

  /** Runs `work` for one request; an error gives the request back, or fails it after its last attempt. */
  private async guarded(request: ClaimedEntryRequest, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      const message = (error as Error).message;
      this.requestLogger(request).error({ err: error, attempt: request.attempts }, 'entry request failed');
      if (request.attempts >= this.maxAttempts) {
        await this.store.entry.fail(request, `entry failed after ${request.attempts} attempts: ${message}`, this.clock());
      } else {
        await this.store.entry.release(request);
      }
    }
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
        nextClaimAt = taken === 0 || taken >= CLAIM_LIMIT ? 0 : claimedAt + this.claimSpacingMs;
        if (taken === 0) await this.sleep(this.pollIntervalMs);
      } catch (error) {
        // The database is unreachable or the claim itself failed: wait and try again.
        this.logger.error({ err: error }, 'entry worker could not claim a request');
        await this.sleep(this.pollIntervalMs);
      }
    }
    await this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Why the claimed request cannot enter anyone now, judged from the journey as claimed. */
  private refusal(request: ClaimedEntryRequest): Refusal | undefined {
    const { status, points } = request.journey;
    if (status !== 'STATUS_RUNNING') return { notRunning: status };
    const entry = apiEntryPointOf(status, points);
    if (!entry.ok || entry.value.uuid !== request.pointUuid) {
      return { failure: 'the journey no longer has this API entry point' };
    }
    return undefined;
  }

  /** A finished or archived journey fails the request; a paused one (or one back in draft) holds it queued. */
  private async settle(request: ClaimedEntryRequest, refusal: Refusal): Promise<void> {
    if ('failure' in refusal) {
      await this.store.entry.fail(request, refusal.failure, this.clock());
    } else if (TERMINAL_STATUSES.includes(refusal.notRunning)) {
      await this.store.entry.fail(request, `the journey is ${refusal.notRunning}`, this.clock());
    } else {
      await this.store.entry.release(request);
    }
  }

  /** Stages the audience (once), then enters it batch by batch, renewing the lease with each. */
  private async enterLarge(request: ClaimedEntryRequest): Promise<void> {
    if (!request.audienceResolved) {
      const audience = await this.audienceOf(request);
      if (!audience.ok) {
        await this.store.entry.fail(request, audience.error, this.clock());
        return;
      }
      const resolved = await this.store.entry.resolveAudience(request, audience.query, this.leaseTerms());
      if (resolved.kind === 'lease-lost') return this.leaseLost(request);
    }

    const allowReenter = allowsReentry(request);
    for (let first = true; ; first = false) {
      const batch = await this.store.entry.enterBatch(request, {
        ...this.leaseTerms(),
        batchSize: this.batchSize,
        allowReenter,
      });
      if (batch.kind === 'lease-lost') return this.leaseLost(request);
      if (batch.kind === 'journey-not-running') return this.settle(request, { notRunning: batch.status });
      if (!batch.remaining) break;
      if (first && batch.entered > 0) await this.store.runs.refreshStatistics();
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
    try {
      // The filter parsed and type-checked when it was accepted; tag declarations may have changed since.
      const audience = await this.store.audience.compile(request.applicationId, parseSeglang(request.filter ?? ''));
      return { ok: true, query: { kind: 'filter', userIds: audience.userIds } };
    } catch (error) {
      if (error instanceof SeglangError) return { ok: false, error: filterMessage(error) };
      throw error;
    }
  }

  /**
   * Every write after the claim is fenced by the lease, and only the owner
   * releases, finishes or fails a request: so a lost lease means it expired
   * and another worker claimed the request again.
   */
  private leaseLost(request: ClaimedEntryRequest): void {
    this.requestLogger(request).warn('entry request lease lost to another worker');
    this.metrics?.leaseExpired('entry_request');
  }

  private requestLogger(request: ClaimedEntryRequest): Logger {
    return this.logger.child({ request_uuid: request.uuid, journey_id: request.journeyUuid });
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

type Refusal = { readonly notRunning: JourneyStatus } | { readonly failure: string };

function allowsReentry(request: ClaimedEntryRequest): boolean {
  return request.journey.params.allow_reenter === true;
}
