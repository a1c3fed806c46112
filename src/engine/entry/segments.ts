import { parseSeglang, SeglangError } from '../../domain/seglang/index.js';
import { activeSegmentPoints, type ClaimedSegmentEntry } from '../../store/entry/segments.js';
import type { JourneyStatus } from '../../domain/journey.js';
import type { ClaimSource, EntryWorkerContext } from './claim-source.js';
import { enterStagedBatches, failOrRelease } from './staged-batches.js';

/** Floor of the sleep before an entry due now: another worker may be committing its claim. */
const MIN_SLEEP_MS = 25;

/**
 * The segment entries of started journeys (docs/entry-and-events.md), one
 * at a time: the entry due soonest is claimed, its filter compiled, its
 * audience staged once, then entered batch by batch. The worker sleeps until
 * the next entry is due (a `start_at`), at most `pollIntervalMs`; a journey
 * starting with segment points wakes it at once, in this process and, on
 * Postgres, in any process.
 */
export class SegmentClaims implements ClaimSource {
  readonly claimLimit = 1;

  constructor(private readonly worker: EntryWorkerContext) {}

  async processNext(): Promise<number> {
    const { store, workerId, logger, clock } = this.worker;
    const entry = await store.segmentEntry.claimDue(workerId, this.worker.leaseTerms());
    if (!entry) return 0;
    try {
      await this.process(entry);
    } catch (error) {
      // One line per attempt, naming the journey and point as the statistics show the entry.
      logger.error(
        { err: error, entry: entry.id, journey: entry.journeyUuid, point: entry.pointUuid, attempt: entry.attempts },
        'segment entry failed',
      );
      await failOrRelease(entry.attempts, this.worker.maxAttempts, error, {
        fail: (reason) => store.segmentEntry.fail(entry, reason, clock()),
        release: () => store.segmentEntry.release(entry),
      });
    }
    return 1;
  }

  async idleMs(): Promise<number> {
    const { pollIntervalMs, clock } = this.worker;
    const next = await this.worker.store.segmentEntry.nextDueAt();
    if (next === undefined) return pollIntervalMs;
    return Math.min(pollIntervalMs, Math.max(MIN_SLEEP_MS, next - clock()));
  }

  readonly wakeSignal = {
    listen: (onWake: () => void, onLost?: (error: Error) => void) => this.worker.store.segmentEntry.watchStarts(onWake, onLost),
  };

  private async process(entry: ClaimedSegmentEntry): Promise<void> {
    const { store, clock } = this.worker;
    const stored = await store.journeys.findByUuid(entry.journeyUuid);
    const status: JourneyStatus = stored?.journey.info.status ?? 'STATUS_ARCHIVED';
    if (!stored || status !== 'STATUS_RUNNING') return store.segmentEntry.release(entry);
    const point = activeSegmentPoints(stored.journey.points).find((p) => p.uuid === entry.pointUuid);
    if (!point) {
      await store.segmentEntry.fail(entry, 'the journey no longer has this active segment point', clock());
      return;
    }

    if (!entry.audienceResolved) {
      const compiled = await this.compileFilter(entry);
      if (!compiled.ok) {
        await store.segmentEntry.fail(entry, compiled.error, clock());
        return;
      }
      const staged = await store.segmentEntry.stageAudience(entry, compiled.userIds, this.worker.leaseTerms());
      if (staged.kind === 'lease-lost') return this.leaseLost(entry);
    }

    const { batchSize } = this.worker;
    await enterStagedBatches(store, this.worker.stopping, {
      enterBatch: () => store.segmentEntry.enterBatch(entry, { ...this.worker.leaseTerms(), batchSize }),
      // Paused (or back in draft): hold the entry; finished or archived: the transition has cancelled it.
      notRunning: () => store.segmentEntry.release(entry),
      finish: () => store.segmentEntry.finish(entry, clock()),
      release: () => store.segmentEntry.release(entry),
      leaseLost: () => this.leaseLost(entry),
    });
  }

  /** The filter's users in the entry's application; a filter the application's tags cannot satisfy fails the entry. */
  private async compileFilter(entry: ClaimedSegmentEntry) {
    try {
      const audience = await this.worker.store.audience.compile(entry.applicationId, parseSeglang(entry.filter), this.worker.clock());
      return { ok: true as const, userIds: audience.userIds };
    } catch (error) {
      if (error instanceof SeglangError) return { ok: false as const, error: `start_by_segment.filter: ${error.message}` };
      throw error;
    }
  }

  private leaseLost(entry: ClaimedSegmentEntry): void {
    this.worker.logger.warn({ entry: entry.id }, 'segment entry lease lost to another worker');
  }
}
