import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Point, PointType } from '../domain/journey.js';
import { faultPoint } from '../fault-points.js';
import type { Logger } from '../logger.js';
import type { PointGroup } from '../store/runs/index.js';
import type { Store } from '../store/store.js';
import { DueAgenda } from './due-agenda.js';
import { JourneyPlan } from './journey-plan.js';
import { executeChain, type ChainOutcome } from './batch-chain.js';
import { preparePoint, type PointContext, type PreparedPoint } from './points/index.js';
import { MessageRenderer } from './rendering/message-renderer.js';
import { WorkerLoop, type NextPass } from './worker-loop.js';

export interface SchedulerOptions {
  readonly logger: Logger;
  /** Names this scheduler in logs; unique per process by default. */
  readonly workerId?: string;
  /** Most runs executed per batch (one transaction). */
  readonly batchSize?: number;
  /** Batches in flight at once in this process (Postgres; SQLite has one writer and always uses 1). */
  readonly concurrency?: number;
  /** Longest sleep without a wake-up; also how often the due groups are re-read from the database. */
  readonly pollIntervalMs?: number;
  readonly clock?: () => number;
  /** Called after every committed batch (metrics, benchmarks). */
  readonly onBatch?: (report: BatchReport) => void;
  /** Called when the runs of a batch that kept throwing exit the journey as failed (metrics). */
  readonly onRunsFailed?: (report: FailedRunsReport) => void;
}

/** Runs that exited the journey at a point whose batch threw MAX_BATCH_ATTEMPTS times (docs/engine.md). */
export interface FailedRunsReport {
  readonly journeyId: number;
  readonly pointUuid: string;
  readonly pointType: PointType;
  readonly runs: number;
}

/** One point's execution within a committed batch (a batch executes its point and the instant points after it). */
export interface BatchReport {
  readonly journeyId: number;
  readonly pointUuid: string;
  readonly pointType: PointType;
  readonly runs: number;
  /**
   * True for the point whose due runs the batch claimed (its first report);
   * false for the instant points those runs reached after it in the same batch.
   */
  readonly claimed: boolean;
  /** When each run became due at the point, to measure lateness against `startedAt`. */
  readonly dueAts: readonly number[];
  /** The batch's "now": when it started. */
  readonly startedAt: number;
  /** Time spent executing this point within the batch. */
  readonly executionMs: number;
  /** When the batch (every point it executed) committed. */
  readonly committedAt: number;
}

/**
 * Batch size and concurrency. SQLite, from `npm run bench engine batch-size`
 * (200,000 runs through entry → split → push → exit; runs/s and the longest
 * batch) on the shared 2-core machine under load 5–12, so ±30% noise:
 *
 *   SQLite, one writer     500: 7.9k   1,000: 10.8k   2,000: 12.1k (285 ms)   5,000: 15.9k (620 ms)   10,000: 11.7k (1.1 s)
 *     re-run, 150k runs    2,000: 9.9k / 11.1k        5,000: 9.6k / 11.1k
 *
 * On SQLite 5,000 was not reliably faster than 2,000 but doubles how long a
 * batch holds the write lock and the event loop (HTTP waits meanwhile).
 *
 * Postgres, idle machine (2026-12-01), after batches were planned as key
 * probes (docs/engine.md), two loops: the same journey 1,000: 15.5k,
 * 2,000: 17.0k–17.8k, 5,000: 18.1k (705 ms); 100,000 runs due in one second
 * (`lateness`), p99 lateness 1,000: 1,379 ms, 2,000: 958–1,076, 5,000:
 * 757–868. A batch's fixed cost (six round trips, the commit) is paid per
 * 5,000 runs instead of per 1,000; more loops than cores lose.
 *
 * The claim is the batch's transaction (SELECT … FOR UPDATE SKIP LOCKED on
 * Postgres) rather than a leased UPDATE … RETURNING plus a fenced release:
 * `npm run bench engine claim`, 200,000 runs claimed and moved by 2,000,
 * SQLite 48k vs 34k runs/s, Postgres 9.2k vs 5.9k (docs/engine.md).
 */
const DEFAULT_BATCH_SIZE = { sqlite: 2_000, postgres: 5_000 } as const;
const DEFAULT_POSTGRES_CONCURRENCY = 2;
const DEFAULT_POLL_INTERVAL_MS = 1_000;
const PREPARED_POINTS_TTL_MS = 1_000;
/**
 * Batches of one group that may throw in a row: retried after 1, 2, 4 and 8
 * poll intervals, the 5th failure exits the batch's runs as failed
 * (docs/engine.md, "A batch that throws").
 */
export const MAX_BATCH_ATTEMPTS = 5;

/**
 * Moves runs through their journeys' points (docs/engine.md).
 *
 * Each loop repeatedly takes the (journey, point) group with the earliest
 * due run, executes that point once for a batch of up to `batchSize` of its
 * due runs — one transaction that selects, decides and writes — and goes on
 * at once while anything is due: a run that moved to a point is due there
 * immediately, so chains of instant points run back to back. With nothing
 * due it sleeps until the earliest due time it knows of (at most
 * `pollIntervalMs`), or until woken: by its own batches, by a journey
 * starting or resuming, by entries and events (`store.runWake`, across
 * processes through LISTEN/NOTIFY on Postgres).
 *
 * Only journeys in STATUS_RUNNING are executed: a paused journey's runs stay
 * where they are until it resumes. `stop()` lets the batches in hand commit.
 */
export class Scheduler {
  readonly workerId: string;
  private readonly logger: Logger;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private readonly clock: () => number;
  private readonly onBatch: ((report: BatchReport) => void) | undefined;
  private readonly onRunsFailed: ((report: FailedRunsReport) => void) | undefined;
  private readonly renderer: MessageRenderer;

  private readonly agenda = new DueAgenda();
  private plans = new Map<number, JourneyPlan>();
  private readonly prepared = new WeakMap<JourneyPlan, { at: number; points: ReadonlyMap<string, PreparedPoint> }>();
  private refreshing: Promise<void> | undefined;
  private refreshedAt = -Infinity;
  private refreshWanted = true;
  private readonly loop: WorkerLoop;

  constructor(
    private readonly store: Store,
    options: SchedulerOptions,
  ) {
    this.logger = options.logger;
    this.workerId = options.workerId ?? `scheduler:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE[store.dialect];
    this.concurrency = store.dialect === 'sqlite' ? 1 : (options.concurrency ?? DEFAULT_POSTGRES_CONCURRENCY);
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.clock = options.clock ?? Date.now;
    this.onBatch = options.onBatch;
    this.onRunsFailed = options.onRunsFailed;
    // A loop waits for its batch's renders, so one render thread per loop.
    this.renderer = new MessageRenderer({ threads: this.concurrency });
    this.loop = new WorkerLoop({
      name: 'scheduler',
      pass: () => this.pass(),
      pollIntervalMs: this.pollIntervalMs,
      // A pass throws when the database is unreachable or the refresh failed.
      logger: this.logger.child({ worker: this.workerId }),
      failureMessage: 'scheduler could not read due runs',
      concurrency: this.concurrency,
      wakeSignal: store.runWake,
      onSignal: () => (this.refreshWanted = true),
    });
  }

  start(): Promise<void> {
    return this.loop.start();
  }

  /** Lets every batch in hand commit, then resolves once the loops and the render workers have ended. */
  async stop(): Promise<void> {
    await this.loop.stop();
    await this.renderer.close();
  }

  /** Something may have become due: re-read the due groups and look again. */
  wake(): void {
    this.refreshWanted = true;
    this.loop.wake();
  }

  private async pass(): Promise<NextPass> {
    await this.refreshIfNeeded();
    const group = this.agenda.take(this.clock());
    if (group) {
      await this.executeBatch(group);
      return { kind: 'again' };
    }
    // A wake-up during a refresh another loop started is only seen here.
    return this.refreshWanted ? { kind: 'again' } : { kind: 'sleep', ms: this.sleepMs() };
  }

  private async executeBatch(group: PointGroup): Promise<void> {
    const plan = this.plans.get(group.journeyId);
    const point = plan?.point(group.pointUuid);
    if (!plan || !point) {
      // The journey stopped running (or changed) since the agenda was read; the next refresh settles it.
      this.agenda.setAside(group, Infinity);
      return;
    }
    const now = this.clock();
    const batchLogger = this.logger.child({ journey: plan.uuid, point: point.uuid });
    const failures = this.agenda.failuresOf(group);
    try {
      // A retry executes the group's own point alone, prepared alone, so that a failure is the failing point's.
      const alone = failures > 0;
      const prepared = alone
        ? new Map([[point.uuid, await preparePoint(this.pointContext(plan, now), point)]])
        : await this.preparedPoints(plan, now);
      let chain: ChainOutcome | undefined;
      const outcome = await this.store.runs.executeBatch(plan, point.uuid, { now, limit: this.batchSize }, async (runs, access) => {
        chain = await executeChain({ plan, prepared, start: point, runs, now, access, maxPoints: alone ? 1 : undefined });
        faultPoint('scheduler.batch.before-commit');
        return chain.write;
      });
      faultPoint('scheduler.batch.after-commit');
      if (outcome.kind === 'journey-not-running') {
        this.agenda.dropJourney(plan.id);
        this.plans.delete(plan.id);
        return;
      }
      const taken = outcome.runs.length;
      this.agenda.finished(group, { taken, full: taken === this.batchSize, nextDueAt: outcome.nextDueAt, now });
      for (const pointUuid of outcome.advancedTo) this.agenda.due({ journeyId: plan.id, pointUuid }, now);
      if (chain) this.afterChain(plan, chain, now, batchLogger);
    } catch (error) {
      if (failures + 1 >= MAX_BATCH_ATTEMPTS) await this.failRuns(plan, point, group, error, batchLogger);
      else this.retryLater(group, failures, error, batchLogger);
    } finally {
      // The batch may have made runs due for the other loops.
      this.loop.wake();
    }
  }

  /** Backs off 1, 2, 4, 8 poll intervals after the group's 1st, 2nd, … failure in a row. */
  private retryLater(group: PointGroup, failures: number, error: unknown, batchLogger: Logger): void {
    const retryInMs = this.pollIntervalMs * 2 ** Math.min(failures, MAX_BATCH_ATTEMPTS - 1);
    this.agenda.failed(group, this.clock() + retryInMs);
    batchLogger.error({ err: error, attempt: failures + 1, retry_in_ms: retryInMs }, 'batch failed; it is retried');
  }

  /**
   * After the group's last attempt threw: the runs that batch held exit the
   * journey at the point, counted as failed there, so that the rest of the
   * group and every other group go on; the group's next batch starts its
   * attempts afresh.
   */
  private async failRuns(plan: JourneyPlan, point: Point, group: PointGroup, error: unknown, batchLogger: Logger): Promise<void> {
    const now = this.clock();
    try {
      const outcome = await this.store.runs.executeBatch(plan, point.uuid, { now, limit: this.batchSize }, async (runs) => ({
        moves: runs.map((run) => ({ kind: 'exit', runId: run.id, at: point.uuid })),
        counts: [{ pointUuid: point.uuid, entered: 0, passed: 0, failed: runs.length }],
        messages: [],
      }));
      if (outcome.kind === 'journey-not-running') {
        this.agenda.dropJourney(plan.id);
        return;
      }
      const runs = outcome.runs.length;
      batchLogger.error({ err: error, attempts: MAX_BATCH_ATTEMPTS, runs }, 'batch kept failing; its runs exit the journey as failed');
      this.onRunsFailed?.({ journeyId: plan.id, pointUuid: point.uuid, pointType: point.point_type, runs });
      this.agenda.finished(group, { taken: runs, full: runs === this.batchSize, nextDueAt: outcome.nextDueAt, now });
    } catch (failing) {
      this.retryLater(group, MAX_BATCH_ATTEMPTS - 1, failing, batchLogger);
    }
  }

  /** `batchLogger` names the journey and the point the batch claimed at. */
  private afterChain(plan: JourneyPlan, chain: ChainOutcome, startedAt: number, batchLogger: Logger): void {
    for (const move of chain.write.moves) {
      if (move.kind === 'hold') this.agenda.due({ journeyId: plan.id, pointUuid: move.at }, move.until);
    }
    // A batch that set tags may have declared some: compile the journey's splits again.
    if (chain.executions.some((e) => e.point.point_type === 'POINT_TYPE_SET_TAGS')) this.prepared.delete(plan);
    if (chain.tagErrors.length > 0) {
      batchLogger.warn({ reasons: chain.tagErrors }, 'tag writes refused');
    }
    if (chain.unwired > 0) {
      // `start` refuses unwired outputs, so this is a journey changed around the validation.
      batchLogger.error({ runs: chain.unwired }, 'runs left by an unwired output and exited');
    }
    if (!this.onBatch) return;
    const committedAt = this.clock();
    chain.executions.forEach(({ point, dueAts, executionMs }, index) => {
      this.onBatch?.({
        journeyId: plan.id,
        pointUuid: point.uuid,
        pointType: point.point_type,
        runs: dueAts.length,
        claimed: index === 0,
        dueAts,
        startedAt,
        executionMs,
        committedAt,
      });
    });
  }

  /**
   * Every point of the journey compiled for execution. A batch may execute
   * any point its runs reach, and on SQLite nothing may query outside the
   * batch's transaction once it is open, so all are prepared before it. A
   * preparation is reused for PREPARED_POINTS_TTL_MS (a split's compiled
   * filter reads tag declarations, and `daysago` counts from its instant).
   */
  private async preparedPoints(plan: JourneyPlan, now: number): Promise<ReadonlyMap<string, PreparedPoint>> {
    const cached = this.prepared.get(plan);
    if (cached && now - cached.at < PREPARED_POINTS_TTL_MS) return cached.points;
    const points = new Map<string, PreparedPoint>();
    const context = this.pointContext(plan, now);
    for (const point of plan.points()) points.set(point.uuid, await preparePoint(context, point));
    this.prepared.set(plan, { at: now, points });
    return points;
  }

  private pointContext(plan: JourneyPlan, now: number): PointContext {
    return { journey: plan, now, store: this.store, logger: this.logger, renderer: this.renderer };
  }

  /** Re-reads running journeys and due groups when woken or when the last reading is a poll interval old. */
  private async refreshIfNeeded(): Promise<void> {
    if (!this.refreshWanted && this.clock() - this.refreshedAt < this.pollIntervalMs) return;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    await this.refreshing;
  }

  private async refresh(): Promise<void> {
    this.refreshWanted = false;
    const startedAt = this.clock();
    const revisions = await this.store.runs.runningRevisions();
    const stale = [...revisions].filter(([id, revision]) => this.plans.get(id)?.revision !== revision).map(([id]) => id);
    const plans = new Map<number, JourneyPlan>();
    for (const [id, plan] of this.plans) if (revisions.get(id) === plan.revision) plans.set(id, plan);
    for (const journey of await this.store.runs.loadJourneys(stale)) plans.set(journey.id, new JourneyPlan(journey));
    this.plans = plans;
    const groups = [...plans.values()].flatMap((plan) => plan.groups());
    this.agenda.replace(await this.store.runs.nextDueTimes(groups));
    this.refreshedAt = startedAt;
  }

  private sleepMs(): number {
    const now = this.clock();
    const untilRefresh = this.refreshedAt + this.pollIntervalMs - now;
    const earliest = this.agenda.earliest();
    return Math.max(0, Math.min(untilRefresh, earliest === undefined ? Infinity : earliest - now));
  }
}
