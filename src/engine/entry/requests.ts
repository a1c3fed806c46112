import { parseSeglang, SeglangError } from '../../domain/seglang/index.js';
import { apiEntryPointOf, filterMessage } from '../../domain/start-request.js';
import type { Logger } from '../../logger.js';
import type { AudienceQuery, ClaimedEntryRequest, SmallEntry, SmallEntryOutcome } from '../../store/entry/index.js';
import type { JourneyStatus } from '../../domain/journey.js';
import type { ClaimSource, EntryWorkerContext } from './claim-source.js';
import { enterStagedBatches, failOrRelease } from './staged-batches.js';

/** Requests claimed at once: enough to enter a burst of small requests in one transaction. */
const CLAIM_LIMIT = 100;
const TERMINAL_STATUSES: readonly JourneyStatus[] = ['STATUS_FINISHED', 'STATUS_ARCHIVED'];

/**
 * Accepted Start-by-API requests (docs/start-by-api.md). A claim takes up to
 * 100 requests: the small ones (ids at most one batch) of running journeys
 * are entered set-at-a-time, in the claim's own transaction where the store
 * can (SQLite); each large one has its audience staged once, then entered
 * batch by batch. An acceptance in this process wakes the worker at once, on
 * Postgres so does one in any process (LISTEN/NOTIFY).
 */
export class RequestClaims implements ClaimSource {
  readonly claimLimit = CLAIM_LIMIT;

  constructor(private readonly worker: EntryWorkerContext) {}

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
      if (this.worker.stopping()) {
        for (const waiting of large.slice(index)) await this.worker.store.entry.release(waiting);
        break;
      }
      await this.guarded(request, () => this.enterLarge(request));
    }
    return entered + claimed.length;
  }

  async idleMs(): Promise<number> {
    return this.worker.pollIntervalMs;
  }

  readonly wakeSignal = {
    listen: (onWake: () => void, onLost?: (error: Error) => void) => this.worker.store.entry.watchAcceptances(onWake, onLost),
  };

  /**
   * Claims, entering the small requests of running journeys in the claim's
   * transaction where the store can (SQLite). Should that fail, nothing of it
   * committed: the requests are claimed plainly and take the usual paths.
   */
  private async claim(): Promise<{ claimed: readonly ClaimedEntryRequest[]; entered: number }> {
    const { store, workerId } = this.worker;
    try {
      return await store.entry.claimAndEnter(workerId, this.worker.leaseTerms(), CLAIM_LIMIT, (request) =>
        this.refusal(request) === undefined && this.isSmall(request) ? { allowReenter: allowsReentry(request) } : undefined,
      );
    } catch (error) {
      this.worker.logger.warn({ err: error }, 'entering small requests at their claim failed; claiming them plainly');
      return { claimed: await store.entry.claim(workerId, this.worker.leaseTerms(), CLAIM_LIMIT), entered: 0 };
    }
  }

  /** Ids at most one batch, not staged yet: staged, entered and finished in one go. */
  private isSmall(request: ClaimedEntryRequest): boolean {
    return request.selectorKind !== 'filter' && !request.audienceResolved && request.idCount <= this.worker.batchSize;
  }

  /**
   * All small requests in one transaction. Should it fail, each is retried on
   * its own so that one bad request cannot hold the others back.
   */
  private async enterSmall(small: readonly SmallEntry[]): Promise<void> {
    if (small.length === 0) return;
    let outcomes: SmallEntryOutcome[];
    try {
      outcomes = await this.worker.store.entry.enterSmall(small, this.worker.leaseTerms());
    } catch (error) {
      for (const { request } of small) {
        // One line per request, so that each can be found by its request_uuid.
        this.requestLogger(request).warn({ err: error, requests: small.length }, 'entering small requests together failed; one by one');
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
      this.requestLogger(request).error({ err: error, attempt: request.attempts }, 'entry request failed');
      await failOrRelease(request.attempts, this.worker.maxAttempts, error, {
        fail: (reason) => this.worker.store.entry.fail(request, reason, this.worker.clock()),
        release: () => this.worker.store.entry.release(request),
      });
    }
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
    const { store, clock } = this.worker;
    if ('failure' in refusal) {
      await store.entry.fail(request, refusal.failure, clock());
    } else if (TERMINAL_STATUSES.includes(refusal.notRunning)) {
      await store.entry.fail(request, `the journey is ${refusal.notRunning}`, clock());
    } else {
      await store.entry.release(request);
    }
  }

  /** Stages the audience (once), then enters it batch by batch, renewing the lease with each. */
  private async enterLarge(request: ClaimedEntryRequest): Promise<void> {
    const { store, clock } = this.worker;
    if (!request.audienceResolved) {
      const audience = await this.audienceOf(request);
      if (!audience.ok) {
        await store.entry.fail(request, audience.error, clock());
        return;
      }
      const resolved = await store.entry.resolveAudience(request, audience.query, this.worker.leaseTerms());
      if (resolved.kind === 'lease-lost') return this.leaseLost(request);
    }

    const allowReenter = allowsReentry(request);
    const { batchSize } = this.worker;
    await enterStagedBatches(store, this.worker.stopping, {
      enterBatch: () => store.entry.enterBatch(request, { ...this.worker.leaseTerms(), batchSize, allowReenter }),
      notRunning: (status) => this.settle(request, { notRunning: status }),
      finish: () => store.entry.finish(request, clock()),
      release: () => store.entry.release(request),
      leaseLost: () => this.leaseLost(request),
    });
  }

  private async audienceOf(request: ClaimedEntryRequest): Promise<{ ok: true; query: AudienceQuery } | { ok: false; error: string }> {
    if (request.selectorKind !== 'filter') return { ok: true, query: { kind: request.selectorKind } };
    try {
      // The filter parsed and type-checked when it was accepted; tag declarations may have changed since.
      const audience = await this.worker.store.audience.compile(request.applicationId, parseSeglang(request.filter ?? ''));
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
    this.worker.metrics?.leaseExpired('entry_request');
  }

  private requestLogger(request: ClaimedEntryRequest): Logger {
    return this.worker.logger.child({ request_uuid: request.uuid, journey_id: request.journeyUuid });
  }
}

type Refusal = { readonly notRunning: JourneyStatus } | { readonly failure: string };

function allowsReentry(request: ClaimedEntryRequest): boolean {
  return request.journey.params.allow_reenter === true;
}
