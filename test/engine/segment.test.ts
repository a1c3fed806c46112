import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { parseSeglang } from '../../src/domain/seglang/index.js';
import { createLogger } from '../../src/logger.js';
import { Store } from '../../src/store/store.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';
import { waitUntil } from '../support/wait-until.js';
import { runningJourney } from './scheduler-fixtures.js';
import {
  activeRuns,
  createJourney,
  eventEntry,
  exitPoint,
  lifecycle,
  postEvent,
  registerDevices,
  runsOf,
  segmentEntry,
  statistics,
} from './events-support.js';

const logger = createLogger('silent');
const LONDON = 'T("City", eq, "London")';
const LONDONERS = ['ann', 'bob', 'dan', 'eve', 'fay'];

interface EntryRow {
  point_uuid: string;
  status: string;
  selected: number;
  entered: number;
  skipped_already: number;
  error: string | null;
}

async function entriesOf(ctx: TestContext, journeyUuid: string): Promise<EntryRow[]> {
  const rows = await ctx.store.backend.db
    .selectFrom('segment_entries as e')
    .innerJoin('journeys as j', 'j.id', 'e.journey_id')
    .select(['e.point_uuid', 'e.status', 'e.selected', 'e.entered', 'e.skipped_already', 'e.error'])
    .where('j.uuid', '=', journeyUuid)
    .orderBy('e.id')
    .execute();
  return rows.map((r) => ({
    ...r,
    selected: Number(r.selected),
    entered: Number(r.entered),
    skipped_already: Number(r.skipped_already),
  }));
}

function isoIn(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}

describeEachBackend('start_by_segment enters the matching users when the journey starts', (dialect) => {
  let ctx: TestContext;
  let worker: EntryWorker;
  before(async () => {
    ctx = await startTestApp(dialect);
    await registerDevices(ctx, [
      ...LONDONERS.map((userId) => ({ hwid: `hw-${userId}`, userId, tags: { City: 'London' } })),
      // A second London device of ann's: she enters once.
      { hwid: 'hw-ann-tablet', userId: 'ann', tags: { City: 'London' } },
      { hwid: 'hw-cid', userId: 'cid', tags: { City: 'Paris' } },
    ]);
    const other = await ctx.store.applications.create('OTHER-00002', 'Other');
    await ctx.store.applications.createToken('other-token', 'api', 'other', [other.id]);
    await registerDevices(ctx, [{ hwid: 'o-1', userId: 'zed', tags: { City: 'London' } }], 'OTHER-00002', {
      authorization: 'Api other-token',
    });
    worker = new EntryWorker(ctx.store, { claims: 'segments', logger });
  });
  after(() => ctx.close());

  it('schedules the entry with the start, then enters each matching user of the application once', async () => {
    const journey = await createJourney(ctx, [segmentEntry('seg', LONDON), exitPoint()]);
    assert.deepEqual(
      (await entriesOf(ctx, journey)).map((e) => [e.point_uuid, e.status]),
      [['seg', 'scheduled']],
      'the entry is committed with the start, before any worker runs',
    );
    assert.equal(await worker.drain(), 1);
    assert.deepEqual(
      await activeRuns(ctx.store, journey),
      LONDONERS.map((u) => `${u}@seg`),
    );
    const runs = await runsOf(ctx.store, journey);
    assert.ok(
      runs.every((run) => Object.keys(run.attributes).length === 0),
      'segment runs carry no attribute values',
    );
    const [entry] = await entriesOf(ctx, journey);
    assert.deepEqual([entry?.status, entry?.selected, entry?.entered], ['done', 5, 5]);
    const stats = await statistics(ctx, journey);
    assert.deepEqual(stats.totals, { entered: 5, in_journey: 5, exited: 0 });
    assert.deepEqual(stats.points.seg, { entered: 5, in_point: 5, passed: 0 });
    assert.equal(await worker.drain(), 0, 'an entry is done once');
  });

  it('skips users with an active run in the journey unless it allows re-entry', async () => {
    const points = [segmentEntry('seg', LONDON), eventEntry('evt', 'hi'), exitPoint()];
    const strict = await createJourney(ctx, points);
    const lenient = await createJourney(ctx, points, { params: { allow_reenter: true } });
    await postEvent(ctx, { userId: 'ann' }, 'hi');
    await postEvent(ctx, { userId: 'bob' }, 'hi');
    assert.equal(await worker.drain(), 2);
    assert.deepEqual(await activeRuns(ctx.store, strict), ['ann@evt', 'bob@evt', 'dan@seg', 'eve@seg', 'fay@seg']);
    assert.deepEqual(
      (await entriesOf(ctx, strict)).map((e) => [e.selected, e.entered, e.skipped_already]),
      [[5, 3, 2]],
    );
    assert.equal((await activeRuns(ctx.store, lenient)).length, 7);
  });

  it('enters nobody before start_at, and everybody once it has come', async () => {
    const startAt = isoIn(1_500);
    const journey = await createJourney(ctx, [segmentEntry('later', LONDON, { startAt }), exitPoint()]);
    assert.equal(await worker.drain(), 0);
    assert.deepEqual(await runsOf(ctx.store, journey), []);

    const running = new EntryWorker(ctx.store, { claims: 'segments', logger });
    await running.start();
    try {
      await waitUntil('the segment to enter at start_at', async () => (await runsOf(ctx.store, journey)).length === 5);
    } finally {
      await running.stop();
    }
    const runs = await runsOf(ctx.store, journey);
    const enteredAt = await ctx.store.backend.db
      .selectFrom('runs')
      .select((eb) => eb.fn.min('entered_at').as('first'))
      .where(
        'id',
        'in',
        runs.map((r) => r.id),
      )
      .executeTakeFirstOrThrow();
    assert.ok(Number(enteredAt.first) >= Date.parse(startAt), 'no one entered before start_at');
  });

  it('loses nothing and doubles nothing across a worker that died and a restarted process', async () => {
    const journey = await createJourney(ctx, [segmentEntry('seg', LONDON), exitPoint()]);
    const t0 = Date.now();
    const leaseMs = 10_000;

    // Worker A claims, stages the audience, enters one batch of 2, then dies.
    const claim = await ctx.store.segmentEntry.claimDue('worker-a', { now: t0, leaseMs });
    assert.ok(claim);
    const audience = await ctx.store.audience.compile(claim.applicationId, parseSeglang(LONDON));
    const staged = await ctx.store.segmentEntry.stageAudience(claim, audience.userIds, { now: t0, leaseMs });
    assert.deepEqual(staged, { kind: 'resolved', selected: 5 });
    const first = await ctx.store.segmentEntry.enterBatch(claim, { now: t0, leaseMs, batchSize: 2 });
    assert.deepEqual(first, { kind: 'entered', taken: 2, entered: 2, remaining: true, last: 'bob' });

    // A new process (its own store on the same database) finds the entry held until A's lease expires.
    const restarted = Store.open(ctx.database.url);
    try {
      const early = new EntryWorker(restarted, { claims: 'segments', logger, batchSize: 2, clock: () => t0 + leaseMs - 1 });
      assert.equal(await early.drain(), 0);
      const late = new EntryWorker(restarted, { claims: 'segments', logger, batchSize: 2, clock: () => t0 + leaseMs + 1 });
      assert.equal(await late.drain(), 1);
    } finally {
      await restarted.close();
    }
    assert.deepEqual(
      await activeRuns(ctx.store, journey),
      LONDONERS.map((u) => `${u}@seg`),
    );
    assert.deepEqual(
      (await entriesOf(ctx, journey)).map((e) => [e.status, e.selected, e.entered, e.skipped_already]),
      [['done', 5, 5, 0]],
    );
    assert.equal((await statistics(ctx, journey)).points.seg?.entered, 5);

    // A wakes up and goes on: its lease is gone, so it writes nothing.
    assert.deepEqual(await ctx.store.segmentEntry.enterBatch(claim, { now: t0, leaseMs, batchSize: 2 }), {
      kind: 'lease-lost',
    });
    assert.equal(await ctx.store.segmentEntry.finish(claim, t0), false);
    assert.equal((await runsOf(ctx.store, journey)).length, 5);
  });

  it('continues an entry that a stopping worker gave back, from where it stopped', async () => {
    const journey = await createJourney(ctx, [segmentEntry('seg', LONDON), exitPoint()]);
    const now = Date.now();
    const claim = await ctx.store.segmentEntry.claimDue('stopping', { now, leaseMs: 60_000 });
    assert.ok(claim);
    const audience = await ctx.store.audience.compile(claim.applicationId, parseSeglang(LONDON));
    await ctx.store.segmentEntry.stageAudience(claim, audience.userIds, { now, leaseMs: 60_000 });
    await ctx.store.segmentEntry.enterBatch(claim, { now, leaseMs: 60_000, batchSize: 3 });
    await ctx.store.segmentEntry.release(claim);
    assert.deepEqual(
      (await entriesOf(ctx, journey)).map((e) => [e.status, e.entered]),
      [['scheduled', 3]],
    );
    assert.equal(await new EntryWorker(ctx.store, { claims: 'segments', logger, batchSize: 3 }).drain(), 1);
    assert.deepEqual(
      await activeRuns(ctx.store, journey),
      LONDONERS.map((u) => `${u}@seg`),
    );
    assert.deepEqual(
      (await entriesOf(ctx, journey)).map((e) => [e.status, e.entered]),
      [['done', 5]],
    );
  });

  it('holds an entry of a paused journey and enters once it runs; resuming does not enter again', async () => {
    const journey = await createJourney(ctx, [segmentEntry('seg', LONDON), exitPoint()]);
    await lifecycle(ctx, 'pause', journey);
    assert.equal(await worker.drain(), 0);
    await lifecycle(ctx, 'start', journey);
    assert.equal(await worker.drain(), 1);
    assert.equal((await runsOf(ctx.store, journey)).length, 5);
    await lifecycle(ctx, 'pause', journey);
    await lifecycle(ctx, 'start', journey);
    assert.equal(await worker.drain(), 0);
    assert.equal((await runsOf(ctx.store, journey)).length, 5);
    assert.equal((await entriesOf(ctx, journey)).length, 1);
  });

  it('enters the segment afresh when a journey sent back to draft starts again', async () => {
    const journey = await createJourney(ctx, [segmentEntry('seg', LONDON), exitPoint()]);
    assert.equal(await worker.drain(), 1);
    await lifecycle(ctx, 'pause', journey);
    await lifecycle(ctx, 'draft', journey);
    assert.deepEqual(await activeRuns(ctx.store, journey), [], 'back to draft ends every run');
    await lifecycle(ctx, 'start', journey);
    assert.equal(await worker.drain(), 1);
    assert.deepEqual(
      await activeRuns(ctx.store, journey),
      LONDONERS.map((u) => `${u}@seg`),
    );
    assert.equal((await runsOf(ctx.store, journey)).length, 10);
  });

  it('cancels a pending entry when the journey finishes, and schedules no deactivated point', async () => {
    const finished = await createJourney(ctx, [segmentEntry('seg', LONDON, { startAt: isoIn(3_600_000) }), exitPoint()]);
    await lifecycle(ctx, 'finish', finished);
    assert.deepEqual(
      (await entriesOf(ctx, finished)).map((e) => e.status),
      ['cancelled'],
    );

    const deactivated = await createJourney(ctx, [
      segmentEntry('off', LONDON, { deactivated: true }),
      eventEntry('evt', 'never'),
      exitPoint(),
    ]);
    assert.deepEqual(await entriesOf(ctx, deactivated), []);
    assert.equal(await worker.drain(), 0);
  });

  it('follows a definition edited while paused, before its entry began', async () => {
    const body = (filter: string, startAt?: string) => ({
      title: 'Edited',
      params: { application_code: TEST_APP_CODE },
      points: [segmentEntry('seg', filter, startAt === undefined ? {} : { startAt }), exitPoint()],
    });
    const journey = await createJourney(ctx, body(LONDON, isoIn(3_600_000)).points);
    await lifecycle(ctx, 'pause', journey);
    const put = await ctx.request({
      method: 'PUT',
      url: `/api/v3/journeygateway/${journey}`,
      payload: body('T("City", eq, "Paris")'),
    });
    assert.equal(put.statusCode, 200, put.body);
    await lifecycle(ctx, 'start', journey);
    assert.equal(await worker.drain(), 1);
    assert.deepEqual(await activeRuns(ctx.store, journey), ['cid@seg']);
  });

  it('fails the entry, naming the filter, when the filter does not fit the application tags', async () => {
    // `start` refuses such a filter; stored past it, as for a journey started before its tag was declared.
    const stored = await runningJourney(ctx.store, [segmentEntry('seg', 'T("City", gte, 5)'), exitPoint()]);
    const journey = stored.journey.info.uuid;
    assert.equal(await worker.drain(), 1);
    const [entry] = await entriesOf(ctx, journey);
    assert.equal(entry?.status, 'failed');
    assert.match(entry?.error ?? '', /^start_by_segment\.filter: /);
    assert.deepEqual(await runsOf(ctx.store, journey), []);
  });

  it('shows a failing entry in the statistics, failed after its attempts with its reason, while another journey enters', async () => {
    // A union no database runs, stored past `start` as an earlier version accepted it.
    const union = Array.from({ length: 10_000 }, (_, i) => `T("City", eq, "c${i}")`).join(' + ');
    const broken = await runningJourney(ctx.store, [segmentEntry('seg', union), exitPoint()]);
    const healthy = await createJourney(ctx, [segmentEntry('seg', LONDON), exitPoint()]);
    await worker.drain();
    const segmentEntryOf = async (journey: string) => {
      const res = await ctx.request({ method: 'GET', url: `/api/journey/${journey}/statistics/external` });
      assert.equal(res.statusCode, 200, res.body);
      const { points } = res.json<{ payload: { points: { uuid: string; segment_entry?: Record<string, unknown> }[] } }>().payload;
      return points.find((p) => p.uuid === 'seg')?.segment_entry;
    };
    const failed = await segmentEntryOf(broken.journey.info.uuid);
    assert.deepEqual([failed?.status, failed?.selected, failed?.entered], ['failed', 0, 0]);
    assert.match(String(failed?.error), /^(entry failed after 5 attempts|start_by_segment\.filter): /);
    assert.deepEqual(await segmentEntryOf(healthy), { status: 'done', selected: 5, entered: 5 });
    assert.deepEqual(await runsOf(ctx.store, broken.journey.info.uuid), []);
  });
});
