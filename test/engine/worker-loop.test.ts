import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Logger } from '../../src/logger.js';
import { WorkerLoop, type NextPass, type WorkerLoopOptions } from '../../src/engine/worker-loop.js';

/*
 * Every test mocks setTimeout and setInterval, so no sleep ends unless the
 * test advances the clock with `tick`: what happens "at once" is what has
 * happened once pending promise callbacks have run (`settle`).
 */
const POLL_MS = 1_000;

/** Lets every promise callback and I/O callback already due run (setImmediate is not mocked). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Logged {
  readonly errors: unknown[];
  readonly warnings: unknown[];
  readonly logger: Logger;
}

function recordingLogger(): Logged {
  const errors: unknown[] = [];
  const warnings: unknown[] = [];
  const logger = {
    error: (fields: unknown) => void errors.push(fields),
    warn: (fields: unknown) => void warnings.push(fields),
  } as unknown as Logger;
  return { errors, warnings, logger };
}

/** A loop whose passes follow `script` (the last entry repeats); `passes` counts the passes started. */
function scriptedLoop(t: TestContext, script: readonly (() => Promise<NextPass> | NextPass)[], options: Partial<WorkerLoopOptions> = {}) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const logged = recordingLogger();
  const state = { passes: 0 };
  const loop = new WorkerLoop({
    name: 'test worker',
    pollIntervalMs: POLL_MS,
    logger: logged.logger,
    failureMessage: 'pass failed',
    pass: async () => {
      const step = script[Math.min(state.passes, script.length - 1)] as () => Promise<NextPass> | NextPass;
      state.passes++;
      return step();
    },
    ...options,
  });
  t.after(() => loop.stop());
  return { loop, state, logged, tick: (ms: number) => t.mock.timers.tick(ms) };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Calls `loop.stop()`; `done` tells whether it has resolved. */
function beginStop(loop: WorkerLoop): { readonly done: boolean } {
  const progress = { done: false };
  void loop.stop().then(() => (progress.done = true));
  return progress;
}

const sleep: NextPass = { kind: 'sleep' };

describe('WorkerLoop', () => {
  it('keeps a wake-up that arrives during a pass, so the sleep after it returns at once', async (t) => {
    const working = deferred();
    const { loop, state } = scriptedLoop(t, [async () => (await working.promise, sleep), () => sleep]);
    await loop.start();
    await settle();
    loop.wake();
    working.resolve();
    await settle();
    assert.equal(state.passes, 2);
    await settle();
    assert.equal(state.passes, 2, 'the wake-up was used up by the pass it led to');
  });

  it('ends a sleep under way on a wake-up, and sleeps no longer than the poll interval', async (t) => {
    const { loop, state, tick } = scriptedLoop(t, [() => ({ kind: 'sleep', ms: 10 * POLL_MS })]);
    await loop.start();
    await settle();
    loop.wake();
    await settle();
    assert.equal(state.passes, 2);
    tick(POLL_MS - 1);
    await settle();
    assert.equal(state.passes, 2);
    tick(1);
    await settle();
    assert.equal(state.passes, 3, 'a sleep of ten poll intervals ended after one');
  });

  it('cuts a sleep short when stopped', async (t) => {
    const { loop, state } = scriptedLoop(t, [() => sleep]);
    await loop.start();
    await settle();
    const stop = beginStop(loop);
    await settle();
    assert.ok(stop.done);
    assert.equal(state.passes, 1);
  });

  it('stopped while it starts, stops once started', async (t) => {
    const connected = deferred();
    let listening = false;
    const signal = {
      async listen() {
        await connected.promise;
        listening = true;
        return async () => void (listening = false);
      },
    };
    const { loop, state } = scriptedLoop(t, [() => sleep], { wakeSignal: signal });
    const started = loop.start();
    const stop = beginStop(loop);
    connected.resolve();
    await started;
    await settle();
    assert.ok(stop.done);
    assert.equal(listening, false);
    assert.equal(state.passes, 1);
  });

  it('lets the pass in hand finish when stopped, and starts no other', async (t) => {
    const working = deferred();
    const { loop, state } = scriptedLoop(t, [async () => (await working.promise, { kind: 'again' })]);
    await loop.start();
    await settle();
    const stop = beginStop(loop);
    await settle();
    assert.equal(stop.done, false);
    working.resolve();
    await settle();
    assert.ok(stop.done);
    assert.equal(state.passes, 1);
  });

  it('does not end a pause on a wake-up, but keeps it for the pass after the pause', async (t) => {
    const { loop, state, tick } = scriptedLoop(t, [() => ({ kind: 'pause', ms: 25 }), () => sleep]);
    await loop.start();
    await settle();
    loop.wake();
    await settle();
    assert.equal(state.passes, 1);
    tick(25);
    await settle();
    assert.equal(state.passes, 2);
  });

  it('ends a pause when stopped', async (t) => {
    const { loop } = scriptedLoop(t, [() => ({ kind: 'pause', ms: 60_000 })]);
    await loop.start();
    await settle();
    const stop = beginStop(loop);
    await settle();
    assert.ok(stop.done);
  });

  it('logs a pass that threw and tries again after the poll interval', async (t) => {
    const failure = new Error('database unreachable');
    const { loop, state, logged, tick } = scriptedLoop(t, [
      () => {
        throw failure;
      },
      () => sleep,
    ]);
    await loop.start();
    await settle();
    assert.deepEqual(logged.errors, [{ err: failure }]);
    tick(POLL_MS - 1);
    await settle();
    assert.equal(state.passes, 1);
    tick(1);
    await settle();
    assert.equal(state.passes, 2);
  });

  it('ends a sleep that asked for it on a nudge, and no other sleep', async (t) => {
    const { loop, state } = scriptedLoop(t, [() => ({ kind: 'sleep', wakeOnNudge: true }), () => sleep]);
    await loop.start();
    await settle();
    loop.nudge();
    await settle();
    assert.equal(state.passes, 2);
    loop.nudge();
    await settle();
    assert.equal(state.passes, 2);
  });

  it('keeps a nudge that arrives during a pass for a sleep that asked for nudges', async (t) => {
    const working = deferred();
    const { loop, state } = scriptedLoop(t, [async () => (await working.promise, { kind: 'sleep', wakeOnNudge: true }), () => sleep]);
    await loop.start();
    await settle();
    loop.nudge();
    working.resolve();
    await settle();
    assert.equal(state.passes, 2);
  });

  it('drains: runs passes, without their pauses, until one asks to sleep', async (t) => {
    const { loop, state } = scriptedLoop(t, [() => ({ kind: 'again' }), () => ({ kind: 'pause', ms: 60_000 }), () => sleep]);
    assert.equal(await loop.drain(), 2);
    assert.equal(state.passes, 3);
  });

  it('runs `concurrency` lanes at once', async (t) => {
    const working = deferred();
    const { loop, state } = scriptedLoop(t, [async () => (await working.promise, sleep)], { concurrency: 3 });
    await loop.start();
    await settle();
    assert.equal(state.passes, 3);
    working.resolve();
  });

  it('renews leases on its interval until the work to finish when stopping is done', async (t) => {
    let renewals = 0;
    const finishing = deferred();
    const { loop, tick } = scriptedLoop(t, [() => sleep], {
      leaseRenewal: { everyMs: 100, renew: async () => void renewals++ },
      finishStopping: () => finishing.promise,
    });
    await loop.start();
    tick(100);
    assert.equal(renewals, 1);
    const stopped = loop.stop();
    await settle();
    tick(100);
    assert.equal(renewals, 2, 'still renewing while the stop finishes the work in hand');
    finishing.resolve();
    await stopped;
    tick(100);
    assert.equal(renewals, 2);
  });

  it('logs a renewal that failed and renews again on the next interval', async (t) => {
    let renewals = 0;
    const failure = new Error('lease table unreachable');
    const { loop, logged, tick } = scriptedLoop(t, [() => sleep], {
      leaseRenewal: {
        everyMs: 100,
        renew: async () => {
          if (++renewals === 1) throw failure;
        },
      },
    });
    await loop.start();
    tick(100);
    await settle();
    assert.deepEqual(logged.errors, [{ err: failure }]);
    tick(100);
    assert.equal(renewals, 2);
  });

  it('listens on its wake signal while started, tells `onSignal` of its wake-ups, and logs a lost connection', async (t) => {
    const signal = {
      onWake: undefined as (() => void) | undefined,
      onLost: undefined as ((error: Error) => void) | undefined,
      stopped: false,
      async listen(onWake: () => void, onLost?: (error: Error) => void) {
        this.onWake = onWake;
        this.onLost = onLost;
        return async () => void (this.stopped = true);
      },
    };
    let signalled = 0;
    const { loop, state, logged } = scriptedLoop(t, [() => sleep], { wakeSignal: signal, onSignal: () => signalled++ });
    await loop.start();
    await settle();
    signal.onWake?.();
    await settle();
    assert.equal(state.passes, 2);
    assert.equal(signalled, 1);
    loop.wake();
    await settle();
    assert.equal(signalled, 1, 'a wake() of its own is no signal');
    const lost = new Error('connection terminated');
    signal.onLost?.(lost);
    assert.deepEqual(logged.warnings, [{ err: lost }]);
    await loop.stop();
    assert.ok(signal.stopped);
  });
});
