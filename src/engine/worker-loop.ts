import type { Logger } from '../logger.js';

/**
 * The loop every background worker runs (scheduler, dispatcher, entry
 * workers), so that a worker's own code is only its work: what one pass does,
 * and what it wants next.
 *
 *   const loop = new WorkerLoop({ name: 'dispatcher', pass: () => this.claimPass(), pollIntervalMs, logger, failureMessage });
 *   await loop.start();   // listens on `wakeSignal`, starts `concurrency` lanes and the lease renewal
 *   loop.wake();          // work may have arrived
 *   await loop.stop();    // lets the passes in hand finish, then `finishStopping`, then stops renewal and listening
 *
 * A lane runs `pass()` over and over. The pass resolves to what comes next:
 * - `{ kind: 'again' }`: the next pass at once (the pass did work; there may be more).
 * - `{ kind: 'sleep', ms? }`: sleep `ms` (`pollIntervalMs` when omitted, and
 *   never longer), cut short by `wake()` and by `stop()`. A wake-up that
 *   arrived while the pass was working is kept: the sleep then returns at once.
 *   With `wakeOnNudge: true` the sleep is also cut (and skipped) by `nudge()`,
 *   which wakes no other sleep: the dispatcher waits for room this way, so
 *   that a finished delivery does not make it claim again.
 * - `{ kind: 'pause', ms }`: wait `ms` before the next pass, cut short by
 *   `stop()` only; wake-ups meanwhile are kept for the sleep after that pass
 *   (the entry worker's spacing between claims).
 * Wake-ups and nudges count from the start of a pass: those that came before
 * it are used up by it.
 *
 * A pass that throws is logged (`failureMessage`) and followed by a sleep of
 * `pollIntervalMs`, then the loop goes on. Since every sleep ends within
 * `pollIntervalMs`, a worker polls even when its wake-up signal is lost: the
 * signal reports the loss (logged here) and re-establishes itself.
 *
 * `drain()` runs passes in the caller, back to back and without pauses, until
 * one asks to sleep; for tests and benchmarks, on a loop not started.
 */
export interface WorkerLoopOptions {
  /** Names the worker in its log lines ("scheduler", "dispatcher"). */
  readonly name: string;
  /** One pass of the work; resolves to what the lane does next. */
  readonly pass: () => Promise<NextPass>;
  /** Longest sleep, and the sleep after a pass that threw. */
  readonly pollIntervalMs: number;
  readonly logger: Logger;
  /** Logged with the error when a pass throws. */
  readonly failureMessage: string;
  /** Lanes running passes at once; 1 by default. */
  readonly concurrency?: number;
  /** Wakes the loop while it is started. */
  readonly wakeSignal?: WakeSignalSource;
  /** Told of each wake-up from `wakeSignal`, before the lanes wake (the scheduler then re-reads what is due). */
  readonly onSignal?: () => void;
  /** Renews the worker's leases every `everyMs` while it is started, until `finishStopping` has resolved. */
  readonly leaseRenewal?: { readonly everyMs: number; readonly renew: () => Promise<void> };
  /** Work to finish when stopping, after the last pass and while leases are still renewed. */
  readonly finishStopping?: () => Promise<void>;
}

export type NextPass =
  | { readonly kind: 'again' }
  | { readonly kind: 'sleep'; readonly ms?: number; readonly wakeOnNudge?: boolean }
  | { readonly kind: 'pause'; readonly ms: number };

/** What the loop needs of a wake-up signal (src/store/wake.ts provides it). */
export interface WakeSignalSource {
  listen(onWake: () => void, onLost?: (error: Error) => void): Promise<() => Promise<void>>;
}

export class WorkerLoop {
  private readonly lanes: Lane[];
  private starting: Promise<void> | undefined;
  private running: Promise<void>[] = [];
  private stopping = false;
  private stopListening: (() => Promise<void>) | undefined;
  private renewalTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: WorkerLoopOptions) {
    this.lanes = Array.from({ length: options.concurrency ?? 1 }, () => new Lane());
  }

  async start(): Promise<void> {
    if (this.starting || this.running.length > 0) throw new Error(`${this.options.name} already started`);
    this.starting = this.listenAndRun();
    try {
      await this.starting;
    } finally {
      this.starting = undefined;
    }
  }

  private async listenAndRun(): Promise<void> {
    const { wakeSignal, onSignal, leaseRenewal, logger, name } = this.options;
    this.stopping = false;
    this.stopListening = await wakeSignal?.listen(
      () => {
        onSignal?.();
        this.wake();
      },
      (error) => logger.warn({ err: error }, `${name} lost its LISTEN connection; polling until it is back`),
    );
    if (leaseRenewal) {
      this.renewalTimer = setInterval(() => void this.renewLeases(leaseRenewal.renew), leaseRenewal.everyMs);
    }
    this.running = this.lanes.map((lane) => this.run(lane));
  }

  /** Lets the passes in hand finish, runs `finishStopping`, then stops renewing leases and listening. */
  async stop(): Promise<void> {
    // A stop during the start (a SIGTERM while the LISTEN connects) stops what the start began.
    await this.starting?.catch(() => {});
    if (this.running.length === 0) return;
    this.stopping = true;
    for (const lane of this.lanes) lane.interrupt();
    await Promise.all(this.running);
    await this.options.finishStopping?.();
    clearInterval(this.renewalTimer);
    await this.stopListening?.();
    this.stopListening = undefined;
    this.running = [];
  }

  /** Work may have arrived: every lane's sleep ends, or its next one is skipped. */
  wake(): void {
    for (const lane of this.lanes) lane.wake();
  }

  /** Ends (or skips) only sleeps that asked for `wakeOnNudge`. */
  nudge(): void {
    for (const lane of this.lanes) lane.nudge();
  }

  /** Runs passes back to back until one asks to sleep; resolves to how many did not. Errors propagate. */
  async drain(): Promise<number> {
    let passes = 0;
    while ((await this.options.pass()).kind !== 'sleep') passes++;
    return passes;
  }

  private async run(lane: Lane): Promise<void> {
    while (!this.stopping) {
      let next: NextPass;
      try {
        lane.beginPass();
        next = await this.options.pass();
      } catch (error) {
        this.options.logger.error({ err: error }, this.options.failureMessage);
        next = { kind: 'sleep' };
      }
      if (this.stopping) break;
      if (next.kind === 'sleep') {
        await lane.sleep(Math.min(next.ms ?? Infinity, this.options.pollIntervalMs), next.wakeOnNudge ?? false);
      } else if (next.kind === 'pause') {
        await lane.pause(next.ms);
      }
    }
  }

  private async renewLeases(renew: () => Promise<void>): Promise<void> {
    try {
      await renew();
    } catch (error) {
      this.options.logger.error({ err: error }, `${this.options.name} could not renew its leases`);
    }
  }
}

/** One lane's sleeps and the wake-ups kept for them. */
class Lane {
  private woken = false;
  private nudged = false;
  private waiting: { readonly endsOn: 'wake' | 'nudge' | 'stop'; end(): void } | undefined;

  beginPass(): void {
    this.woken = false;
    this.nudged = false;
  }

  wake(): void {
    this.woken = true;
    if (this.waiting?.endsOn !== 'stop') this.waiting?.end();
  }

  nudge(): void {
    this.nudged = true;
    if (this.waiting?.endsOn === 'nudge') this.waiting.end();
  }

  /** Ends the sleep or pause under way (the loop is stopping). */
  interrupt(): void {
    this.waiting?.end();
  }

  sleep(ms: number, wakeOnNudge: boolean): Promise<void> {
    if (this.woken || (wakeOnNudge && this.nudged)) return Promise.resolve();
    return this.wait(ms, wakeOnNudge ? 'nudge' : 'wake');
  }

  pause(ms: number): Promise<void> {
    return ms > 0 ? this.wait(ms, 'stop') : Promise.resolve();
  }

  /** `endsOn`: the weakest signal that ends the wait ('nudge' also ends on a wake, every wait on a stop). */
  private wait(ms: number, endsOn: 'wake' | 'nudge' | 'stop'): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.waiting = { endsOn, end };
    });
  }
}
