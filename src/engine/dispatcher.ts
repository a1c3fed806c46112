import { randomUUID } from 'node:crypto';
import { ChannelProviders } from '../channels/registry.js';
import type { DeliveryResult } from '../channels/provider.js';
import type { WebhookDestinations } from '../channels/webhook-destinations.js';
import { faultPoint } from '../fault-points.js';
import type { Logger } from '../logger.js';
import type { ClaimedMessage, MessageOutcome } from '../store/outbox/index.js';
import type { Store } from '../store/store.js';
import { WorkerLoop, type NextPass } from './worker-loop.js';

export interface RetryPolicy {
  /** Attempts before a message fails for good; the first delivery is attempt 1. */
  readonly maxAttempts: number;
  /** Delay after the first failed attempt; it doubles with each further one. */
  readonly baseDelayMs: number;
  /** Ceiling of the delay, also applied to a receiver's `Retry-After`. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 10, baseDelayMs: 2_000, maxDelayMs: 15 * 60_000 };

export interface DispatcherOptions {
  /** Messages claimed per claim. */
  readonly batchSize?: number;
  /** Deliveries in flight at once. */
  readonly concurrency?: number;
  /** How long a claim holds a message; renewed while the message is still held. */
  readonly leaseMs?: number;
  /** The fallback poll when no wake-up arrives (and the retry clock's resolution). */
  readonly pollIntervalMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** How long channel settings are cached. */
  readonly settingsTtlMs?: number;
  /** Where webhooks may be delivered; the strict policy (no allow-list) when omitted. */
  readonly webhookDestinations?: WebhookDestinations;
  /** Source of jitter; tests may fix it. */
  readonly random?: () => number;
  readonly metrics?: DispatcherMetrics;
}

/** What a dispatcher reports to the process's metrics (src/service/metrics.ts). */
export interface DispatcherMetrics {
  /** A provider answered for a message `sinceClaimMs` after this dispatcher claimed it. */
  deliveryAnswered(outcome: MessageOutcome['kind'], sinceClaimMs: number): void;
  /** Outcomes the store refused because the messages' leases had expired and another dispatcher claimed them. */
  leasesLost(messages: number): void;
}

/**
 * The delay before retrying after failed attempt `attempt` (1-based):
 * exponential, capped, with "equal jitter" — half the delay is fixed, half
 * random — so that messages which failed together (a receiver that was down)
 * do not all come back in the same instant.
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

/**
 * How long a claim holds a message. A live dispatcher renews the leases of
 * everything it holds every third of this (in flight or queued), so the lease
 * does not have to outlast a delivery; it only bounds how long the claims of
 * a dispatcher that died (kill -9, a lost host) wait before another takes
 * them. It was 2 min: a worker killed with its ~430 claimed messages left
 * them undelivered for 2 min (test/fault/worker-kill.test.ts). 30 s keeps two
 * renewals of margin for a database that is briefly unreachable.
 */
const DEFAULT_LEASE_MS = 30_000;

/** How many times a stopping dispatcher tries to record its last outcomes before leaving them to lease expiry. */
const FINAL_FLUSH_ATTEMPTS = 3;

/**
 * Delivers the outbox. It claims due messages in batches under a lease,
 * delivers each through its application's channel provider with bounded
 * concurrency, and records outcomes in batched transactions (final outcomes
 * also go to the delivery log and the point's sent/failed counters).
 *
 * Any number of dispatchers may share a Postgres database: claims skip rows
 * another holds. A message recorded `sent` is never claimed again; a
 * dispatcher that dies after a provider accepted a message but before the
 * outcome was recorded lets the lease run out, and the message is delivered
 * once more with the same idempotency key, which is why providers send it.
 *
 * It wakes when messages are enqueued (in process on SQLite, LISTEN/NOTIFY on
 * Postgres, or `notify()`), and polls every `pollIntervalMs` for retries that
 * came due and wake-ups that were missed.
 */
export class Dispatcher {
  private readonly owner = `dispatcher-${randomUUID()}`;
  private readonly providers: ChannelProviders;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly retryPolicy: RetryPolicy;
  private readonly random: () => number;
  private readonly metrics: DispatcherMetrics | undefined;
  /** Claimed messages not yet recorded (queued, in flight, or awaiting their outcome's write), with when each was claimed. */
  private readonly held = new Map<number, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private queue: ClaimedMessage[] = [];
  private outcomes: MessageOutcome[] = [];
  private flushing: Promise<void> | undefined;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private readonly loop: WorkerLoop;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    options: DispatcherOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 200;
    this.concurrency = options.concurrency ?? 32;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.random = options.random ?? Math.random;
    this.metrics = options.metrics;
    this.providers = new ChannelProviders(store.channelSettings, logger, {
      settingsTtlMs: options.settingsTtlMs,
      webhookDestinations: options.webhookDestinations,
    });
    this.loop = new WorkerLoop({
      name: 'dispatcher',
      pass: () => this.claimPass(),
      pollIntervalMs: this.pollIntervalMs,
      logger,
      failureMessage: 'dispatcher could not claim messages',
      wakeSignal: store.outbox.newWork,
      leaseRenewal: { everyMs: Math.max(1, Math.floor(this.leaseMs / 3)), renew: () => this.renewLeases() },
      finishStopping: () => this.finishHeld(),
    });
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`dispatcher cannot start: it is ${this.state}`);
    this.state = 'running';
    try {
      await this.loop.start();
    } catch (error) {
      this.state = 'new';
      throw error;
    }
  }

  /** Tells the dispatcher that messages may be due now. */
  notify(): void {
    this.loop.wake();
  }

  /**
   * Stops claiming, gives back claimed messages not yet attempted, lets the
   * deliveries in flight finish and records their outcomes, then closes the
   * providers' connections.
   */
  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    await this.loop.stop();
    await this.providers.close();
    this.state = 'stopped';
  }

  /** After the last claim: gives back what was not attempted and records the outcomes of what was. */
  private async finishHeld(): Promise<void> {
    const unstarted = this.queue.splice(0).map((m) => m.id);
    if (unstarted.length > 0) {
      try {
        await this.store.outbox.release(this.owner, unstarted);
      } catch (error) {
        this.logger.error({ err: error }, 'dispatcher could not release messages; they are due again when their lease ends');
      }
      for (const id of unstarted) this.held.delete(id);
    }
    await Promise.all(this.inFlight);
    await this.flushOnStop();
  }

  private get running(): boolean {
    return this.state === 'running';
  }

  /** Claims a batch and starts delivering it; with no room to claim, sleeps until a delivery or a write ends. */
  private async claimPass(): Promise<NextPass> {
    if (!this.hasRoomToClaim()) return { kind: 'sleep', wakeOnNudge: true };
    const claimedAt = Date.now();
    const batch = await this.store.outbox.claimDue(this.owner, this.batchSize, this.leaseMs, claimedAt);
    for (const message of batch) {
      this.held.set(message.id, claimedAt);
      this.queue.push(message);
    }
    if (this.running) this.startDeliveries();
    return batch.length < this.batchSize ? { kind: 'sleep' } : { kind: 'again' };
  }

  /** Claims only while the local backlog is short and unrecorded outcomes are bounded. */
  private hasRoomToClaim(): boolean {
    return this.queue.length < this.concurrency && this.held.size <= this.batchSize + this.concurrency;
  }

  /** A delivery or an outcome write ended: there may be room to claim again. */
  private wakeForCapacity(): void {
    this.loop.nudge();
  }

  private startDeliveries(): void {
    while (this.running && this.inFlight.size < this.concurrency && this.queue.length > 0) {
      const message = this.queue.shift() as ClaimedMessage;
      const delivery: Promise<void> = this.deliver(message).finally(() => {
        this.inFlight.delete(delivery);
        this.startDeliveries();
        this.wakeForCapacity();
      });
      this.inFlight.add(delivery);
    }
  }

  private async deliver(message: ClaimedMessage): Promise<void> {
    let provider: string;
    let result: DeliveryResult;
    try {
      ({ provider, result } = await this.providers.deliver(message.applicationId, message.message, message.idempotencyKey));
    } catch (error) {
      // Providers report failures as results. One that throws on this message would throw
      // on every retry, so the message fails alone instead of taking its attempts from the queue.
      provider = 'unknown';
      result = { outcome: 'permanent', error: `the channel could not handle this message: ${(error as Error).message}` };
    }
    const outcome = this.outcomeOf(message, provider, result);
    const claimedAt = this.held.get(message.id);
    if (claimedAt !== undefined) this.metrics?.deliveryAnswered(outcome.kind, Date.now() - claimedAt);
    this.outcomes.push(outcome);
    this.flushing ??= this.flush().finally(() => {
      this.flushing = undefined;
    });
  }

  private outcomeOf(message: ClaimedMessage, provider: string, result: DeliveryResult): MessageOutcome {
    const { id, attempt } = message;
    const context = { messageId: id, journeyId: message.journeyId, pointUuid: message.pointUuid, attempt, provider };
    if (result.outcome === 'ok') return { id, kind: 'sent', provider, ...optionalCode(result.responseCode) };
    if (result.outcome === 'permanent' || attempt >= this.retryPolicy.maxAttempts) {
      const reason = result.outcome === 'permanent' ? result.error : `${result.error} (gave up after ${attempt} attempts)`;
      this.logger.warn({ ...context, reason }, 'message failed');
      return { id, kind: 'failed', provider, reason, ...optionalCode(result.responseCode) };
    }
    const floor = Math.min(result.retryAfterMs ?? 0, this.retryPolicy.maxDelayMs);
    const delay = Math.max(retryDelayMs(attempt, this.retryPolicy, this.random), floor);
    this.logger.info({ ...context, reason: result.error, retryInMs: delay }, 'message delivery will be retried');
    return { id, kind: 'retry', reason: result.error, nextAttemptAt: Date.now() + delay };
  }

  /** Writes outcomes in batches; outcomes that complete while a write is under way go in the next one. */
  private async flush(): Promise<void> {
    while (this.outcomes.length > 0) {
      // Let deliveries that finish in the same turn join this batch.
      await new Promise((resolve) => setImmediate(resolve));
      const batch = this.outcomes;
      this.outcomes = [];
      try {
        faultPoint('dispatcher.outcomes.before-record');
        const recorded = await this.store.outbox.recordOutcomes(this.owner, batch);
        faultPoint('dispatcher.outcomes.after-record');
        // recordOutcomes drops exactly the outcomes whose row another owner has claimed since.
        if (recorded < batch.length) this.metrics?.leasesLost(batch.length - recorded);
        for (const outcome of batch) this.held.delete(outcome.id);
        this.wakeForCapacity();
      } catch (error) {
        this.outcomes = batch.concat(this.outcomes);
        this.logger.error({ err: error, outcomes: batch.length }, 'dispatcher could not record outcomes; retrying');
        if (!this.running) return;
        await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
      }
    }
  }

  private async flushOnStop(): Promise<void> {
    await this.flushing;
    for (let attempt = 1; this.outcomes.length > 0 && attempt <= FINAL_FLUSH_ATTEMPTS; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
      await this.flush();
    }
    if (this.outcomes.length > 0) {
      this.logger.error(
        { outcomes: this.outcomes.length },
        'dispatcher stopped with unrecorded outcomes; those messages are delivered again, with the same idempotency key, when their lease ends',
      );
    }
  }

  private async renewLeases(): Promise<void> {
    if (this.held.size === 0) return;
    await this.store.outbox.extendLeases(this.owner, [...this.held.keys()], this.leaseMs);
  }
}

function optionalCode(responseCode: number | undefined): { responseCode?: number } {
  return responseCode === undefined ? {} : { responseCode };
}
