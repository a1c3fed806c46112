import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { assignBranch, compileAbSplit } from '../../src/domain/ab-split.js';
import { Scheduler, type FailedRunsReport } from '../../src/engine/scheduler.js';
import { createLogger } from '../../src/logger.js';
import { Store } from '../../src/store/store.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, type TestContext } from '../support/app.js';
import { waitUntil } from '../support/wait-until.js';
import { applicationId, point, runCounts, runningJourney, seedRuns, seedUsers } from './scheduler-fixtures.js';

const logger = createLogger('silent');
/** Longer than any test: a run that moves did so because the scheduler was woken or timed its sleep, not by polling. */
const NO_POLL_MS = 120_000;

describeEachBackend('scheduler', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  async function counters(journeyId: number) {
    const rows = await ctx.store.backend.db
      .selectFrom('journey_point_counters')
      .select(['point_uuid', 'entered', 'passed', 'sent', 'failed'])
      .where('journey_id', '=', journeyId)
      .execute();
    return new Map(rows.map((r): [string, [number, number]] => [r.point_uuid, [Number(r.entered), Number(r.passed)]]));
  }

  it('splits 20,000 runs 30/70 within one percentage point, each user on the branch its hash gives', async () => {
    const users = 20_000;
    await seedUsers(ctx.store, 'ab-', users);
    const branches = [
      { key: 'small', percent: 30 },
      { key: 'large', percent: 70 },
    ];
    // The journey's uuid seeds the split's hash. A random one strays past 1 pp over 20,000 users (3σ) about one run
    // in 500, so this test fixes it.
    const journey = await runningJourney(
      ctx.store,
      [
        point('api', 'START_BY_API', { start_by_api: {} }, { default: 'ab' }),
        point('ab', 'AB_SPLITTER', { ab_splitter: { branches } }, { small: 'small-exit', large: 'large-exit' }),
        point('small-exit', 'EXIT', {}),
        point('large-exit', 'EXIT', {}),
      ],
      {},
      '5f1c9a3e-2b7d-4c8e-9f10-6a2b3c4d5e6f',
    );
    await seedRuns(ctx.store, journey.id, 'api', 'ab-', users);
    // A short poll (100 ms, not 1 s) only bounds what a missed wake-up would cost this test.
    const scheduler = new Scheduler(ctx.store, { logger, pollIntervalMs: 100 });
    await scheduler.start();
    try {
      await waitUntil(
        'every run exited',
        async () => {
          const runs = await runCounts(ctx.store, journey.id);
          return (runs.get('exited:small-exit') ?? 0) + (runs.get('exited:large-exit') ?? 0) === users;
        },
        60_000,
      );
    } finally {
      await scheduler.stop();
    }
    const split = compileAbSplit(journey.journey.info.uuid, 'ab', branches);
    assert.ok(split.ok);
    const exits = await ctx.store.backend.db
      .selectFrom('runs')
      .select(['user_id', 'point_uuid'])
      .where('journey_id', '=', journey.id)
      .execute();
    const small = exits.filter((r) => r.point_uuid === 'small-exit').length;
    assert.ok(Math.abs(small / users - 0.3) <= 0.01, `small branch took ${((100 * small) / users).toFixed(2)}%`);
    for (const run of exits) assert.equal(run.point_uuid, `${assignBranch(split.value, run.user_id)}-exit`);
    const counts = await counters(journey.id);
    assert.deepEqual(counts.get('ab'), [users, users]);
    assert.deepEqual(counts.get('small-exit'), [small, small]);
    assert.deepEqual(counts.get('large-exit'), [users - small, users - small]);
  });

  it('with two workers on separate connections, executes every run exactly once', async () => {
    const users = 3_000;
    await seedUsers(ctx.store, 'pair-', users);
    const journey = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'hook' }),
      point('hook', 'WEBHOOK', { webhook: { url: 'http://127.0.0.1:9/{{ user_id }}', method: 'GET' } }, { default: 'push' }),
      point('push', 'SEND_PUSH', { send_push: { title: 'Hi', body: '{{ user_id }}' } }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    await seedRuns(ctx.store, journey.id, 'api', 'pair-', users);
    const other = Store.open(ctx.database.url);
    // Batches of 100 so that the two take turns many times; a 50 ms poll re-reads groups the other holds soon.
    const workers = [
      new Scheduler(ctx.store, { logger, batchSize: 100, pollIntervalMs: 50 }),
      new Scheduler(other, { logger, batchSize: 100, pollIntervalMs: 50 }),
    ];
    await Promise.all(workers.map((w) => w.start()));
    try {
      await waitUntil('every run exited', async () => (await runCounts(ctx.store, journey.id)).get('exited:exit') === users, 60_000);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await other.close();
    }
    const outbox = await ctx.store.backend.db
      .selectFrom('outbox')
      .select(['point_uuid', (eb) => eb.fn.count<number>('run_id').distinct().as('runs'), (eb) => eb.fn.countAll<number>().as('rows')])
      .where('journey_id', '=', journey.id)
      .groupBy('point_uuid')
      .execute();
    assert.deepEqual(outbox.map((o) => [o.point_uuid, Number(o.runs), Number(o.rows)]).sort(), [
      ['hook', users, users],
      ['push', users, users],
    ]);
    const counts = await counters(journey.id);
    for (const uuid of ['api', 'hook', 'push', 'exit']) assert.deepEqual(counts.get(uuid), [users, users], uuid);
  });

  it('enqueues every message of a batch with its own run, device, recipient and payload', async () => {
    // 123 users, every third with a second device: 164 messages in one batch, more than one insert statement holds.
    const users = 123;
    await seedUsers(ctx.store, 'many-', users);
    const journey = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'push' }),
      point('push', 'SEND_PUSH', { send_push: { title: 'Hi {{ user_id }}', body: 'b' } }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    await seedRuns(ctx.store, journey.id, 'api', 'many-', users);
    // Added after the runs, which seedRuns makes one per device.
    const app = await applicationId(ctx.store);
    const now = Date.now();
    await ctx.store.backend.db
      .insertInto('devices')
      .values(
        Array.from({ length: users / 3 }, (_, i) => ({
          application_id: app,
          hwid: `many-${3 * i}-second`,
          user_id: `many-${3 * i}`,
          device_type: 3,
          push_token: `second-tok-${3 * i}`,
          created_at: now,
          updated_at: now,
        })),
      )
      .execute();
    // A short poll only bounds what a missed wake-up would cost; 30 s only names a hang.
    const scheduler = new Scheduler(ctx.store, { logger, pollIntervalMs: 50 });
    await scheduler.start();
    try {
      await waitUntil('every run exited', async () => (await runCounts(ctx.store, journey.id)).get('exited:exit') === users, 30_000);
    } finally {
      await scheduler.stop();
    }
    const rows = await ctx.store.backend.db
      .selectFrom('outbox')
      .innerJoin('runs', 'runs.id', 'outbox.run_id')
      .select(['outbox.user_id', 'runs.user_id as run_user', 'outbox.hwid', 'outbox.recipient', 'outbox.payload', 'outbox.idempotency_key'])
      .where('outbox.journey_id', '=', journey.id)
      .execute();
    const expected = Array.from({ length: users }, (_, i) => [
      [`many-${i}`, `many-${i}-hw`, `tok-many-${i}`],
      ...(i % 3 === 0 ? [[`many-${i}`, `many-${i}-second`, `second-tok-${i}`]] : []),
    ]).flat();
    assert.deepEqual(rows.map((r) => [r.user_id, r.hwid, r.recipient]).sort(), expected.sort());
    for (const row of rows) {
      assert.equal(row.run_user, row.user_id);
      assert.deepEqual(JSON.parse(row.payload), { title: `Hi ${row.user_id}`, body: 'b' });
    }
    assert.equal(new Set(rows.map((r) => r.idempotency_key)).size, rows.length);
  });

  it('wakes on a runWake announcement from another connection instead of waiting for its poll', async () => {
    await seedUsers(ctx.store, 'wake-', 3);
    const journey = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    const scheduler = new Scheduler(ctx.store, { logger, pollIntervalMs: NO_POLL_MS });
    await scheduler.start();
    const other = Store.open(ctx.database.url);
    try {
      // Let the scheduler's first reading find nothing due, so only the announcement can move the runs. The
      // reading is not observable from here; 200 ms is many times its cost, and were it late it would find the
      // runs itself: the test would prove less, not fail.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await seedRuns(other, journey.id, 'api', 'wake-', 3);
      await other.runWake.announce();
      // On SQLite announcements are in-process: the other connection's runs are found when this process is told.
      if (dialect === 'sqlite') await ctx.store.runWake.announce();
      await waitUntil('the runs exited', async () => (await runCounts(ctx.store, journey.id)).get('exited:exit') === 3);
    } finally {
      await scheduler.stop();
      await other.close();
    }
  });

  it('sleeps until the earliest due time it knows of, not until its next poll', async () => {
    await seedUsers(ctx.store, 'timer-', 5);
    const journey = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'wait' }),
      point('wait', 'WAIT', { wait: { delay_seconds: 1 } }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    await seedRuns(ctx.store, journey.id, 'api', 'timer-', 5);
    const scheduler = new Scheduler(ctx.store, { logger, pollIntervalMs: NO_POLL_MS });
    await scheduler.start();
    try {
      await waitUntil('the runs exited after their wait', async () => (await runCounts(ctx.store, journey.id)).get('exited:exit') === 5);
    } finally {
      await scheduler.stop();
    }
    const exited = await ctx.store.backend.db
      .selectFrom('runs')
      .select(['entered_at', 'exited_at'])
      .where('journey_id', '=', journey.id)
      .execute();
    for (const run of exited)
      assert.ok(Number(run.exited_at) >= Number(run.entered_at) + 1_000, 'left the wait no earlier than its due time');
  });

  it('makes a pause wait for the batch in flight, whose messages it then holds', async () => {
    await seedUsers(ctx.store, 'inflight-', 3);
    const journey = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    await seedRuns(ctx.store, journey.id, 'api', 'inflight-', 3);
    let batchStarted!: () => void;
    const started = new Promise<void>((resolve) => (batchStarted = resolve));
    let releaseBatch!: () => void;
    const released = new Promise<void>((resolve) => (releaseBatch = resolve));
    const batch = ctx.store.runs.executeBatch(journey, 'api', { now: Date.now(), limit: 10 }, async (runs) => {
      batchStarted();
      await released;
      return {
        moves: runs.map((run) => ({ kind: 'exit' as const, runId: run.id, at: 'exit' })),
        counts: [{ pointUuid: 'api', entered: 0, passed: runs.length, failed: 0 }],
        messages: [
          {
            pointUuid: 'api',
            channel: 'push' as const,
            unrendered: [],
            items: runs.map((run) => ({
              runId: run.id,
              userId: run.userId,
              hwid: null,
              recipient: `tok-${run.userId}`,
              payload: { title: 'in flight', body: run.userId },
              deliverAt: Date.now(),
            })),
          },
        ],
      };
    });
    await started;
    let paused = false;
    const pausing = ctx.store.journeys.transition(journey, 'STATUS_PAUSED').then((moved) => {
      paused = true;
      return moved;
    });
    // A pause that did not wait for the batch commits in a few ms; 300 ms gives it ample time to show.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(paused, false, 'the pause waits for the batch');
    releaseBatch();
    assert.equal((await batch).kind, 'executed');
    assert.equal((await pausing)?.journey.info.status, 'STATUS_PAUSED');
    const statuses = await ctx.store.backend.db.selectFrom('outbox').select('status').where('journey_id', '=', journey.id).execute();
    assert.deepEqual(
      statuses.map((s) => s.status),
      ['held', 'held', 'held'],
    );
  });

  it('stops only between batches: after stop() every run is wholly at one point and the counters agree', async () => {
    const users = 6_000;
    await seedUsers(ctx.store, 'stop-', users);
    const journey = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'push' }),
      point('push', 'SEND_PUSH', { send_push: { title: 'Hi', body: '{{ user_id }}' } }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    await seedRuns(ctx.store, journey.id, 'api', 'stop-', users);
    // Batches of 500, so that stop() comes with most of the 6,000 runs still to move.
    const scheduler = new Scheduler(ctx.store, { logger, batchSize: 500, pollIntervalMs: 50 });
    await scheduler.start();
    await waitUntil('some runs moved', async () => ((await counters(journey.id)).get('api')?.[1] ?? 0) > 0);
    await scheduler.stop();

    const runs = await runCounts(ctx.store, journey.id);
    const counts = await counters(journey.id);
    const at = (key: string) => runs.get(key) ?? 0;
    const [, apiPassed] = counts.get('api') ?? [0, 0];
    const [pushEntered, pushPassed] = counts.get('push') ?? [0, 0];
    assert.equal(at('active:api'), users - apiPassed);
    assert.equal(pushEntered, apiPassed);
    assert.equal(at('active:push'), pushEntered - pushPassed);
    const messages = await ctx.store.backend.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('journey_id', '=', journey.id)
      .executeTakeFirstOrThrow();
    assert.equal(Number(messages.n), pushPassed, 'one push per run that passed the push point, none for the others');
    assert.ok(at('active:api') + at('active:push') + at('active:exit') + at('exited:exit') === users);
  });

  it('exits the runs of a batch that keeps throwing as failed at its point, after its attempts, while another journey proceeds', async () => {
    const users = 30;
    await seedUsers(ctx.store, 'broken-', users);
    await seedUsers(ctx.store, 'healthy-', users);
    // A wait no version of `start` accepts (as if stored before a check was added): preparing it throws.
    const broken = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'wait' }),
      point('wait', 'WAIT', { wait: {} }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    const healthy = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    await seedRuns(ctx.store, broken.id, 'api', 'broken-', users);
    await seedRuns(ctx.store, healthy.id, 'api', 'healthy-', users);
    const failed: FailedRunsReport[] = [];
    // Back-offs of 20, 40, 80 and 160 ms.
    const scheduler = new Scheduler(ctx.store, { logger, pollIntervalMs: 20, onRunsFailed: (report) => failed.push(report) });
    await scheduler.start();
    try {
      await waitUntil('the healthy journey exited', async () => (await runCounts(ctx.store, healthy.id)).get('exited:exit') === users);
      await waitUntil('the broken journey settled', async () => (await runCounts(ctx.store, broken.id)).get('exited:wait') === users);
    } finally {
      await scheduler.stop();
    }
    // A retry executes the entry point alone: the runs reach the wait, where they fail.
    assert.deepEqual([...(await runCounts(ctx.store, broken.id))], [['exited:wait', users]]);
    const res = await ctx.request({ method: 'GET', url: `/api/journey/${broken.journey.info.uuid}/statistics/external` });
    assert.equal(res.statusCode, 200, res.body);
    const stats = res.json<{
      payload: { totals: unknown; points: { uuid: string; entered: number; passed: number; pointStat: unknown }[] };
    }>();
    assert.deepEqual(stats.payload.totals, { entered: users, in_journey: 0, exited: users });
    assert.deepEqual(
      stats.payload.points.map((p) => [p.uuid, p.entered, p.passed, p.pointStat]),
      [
        ['api', users, users, { sent: 0, failed: 0 }],
        ['wait', users, 0, { sent: 0, failed: users }],
        ['exit', 0, 0, { sent: 0, failed: 0 }],
      ],
    );
    assert.deepEqual(failed, [{ journeyId: broken.id, pointUuid: 'wait', pointType: 'POINT_TYPE_WAIT', runs: users }]);
  });
});
