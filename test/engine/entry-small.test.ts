import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, it } from 'node:test';
import { pino } from 'pino';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import type { SmallEntry } from '../../src/store/entry/index.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, type TestContext } from '../support/app.js';
import {
  ageRateLimits,
  createJourney,
  entryRowCounts,
  stageTable,
  lifecycle,
  registerDevices,
  requestStatus,
  runsOf,
  startExternal,
} from '../http/start-external-support.js';

const logger = createLogger('silent');

/**
 * The small-request paths (entered at the claim on SQLite, `enterSmall`
 * on both): the counts they record, lease fencing and a journey that stops
 * running between claim and entry.
 */
describeEachBackend('entry of small requests', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
    await registerDevices(ctx, [
      { hwid: 'hw-a1', userId: 'a' },
      { hwid: 'hw-a2', userId: 'a' },
      { hwid: 'hw-b', userId: 'b' },
      { hwid: 'hw-c', userId: 'c' },
    ]);
  });
  after(() => ctx.close());

  async function accept(journey: string, payload: Record<string, unknown>): Promise<string> {
    const res = await startExternal(ctx, journey, { payload });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ request_uuid: string }>().request_uuid;
  }

  it('counts unknown ids, users already in the journey and several hwids of one user as the staged path does', async () => {
    const journey = await createJourney(ctx);
    const worker = new EntryWorker(ctx.store, { logger });
    await accept(journey, { users: ['a'] });
    assert.equal(await worker.drain(), 1);

    await ageRateLimits(ctx.store);
    const byUsers = await accept(journey, { users: ['a', 'b', 'ghost', 'nobody'] });
    assert.equal(await worker.drain(), 1);
    const users = await requestStatus(ctx, journey, byUsers);
    assert.deepEqual([users.status, users.selected, users.entered, users.skipped], ['done', 4, 1, { unknown: 2, already_in_journey: 1 }]);

    await ageRateLimits(ctx.store);
    const byHwids = await accept(journey, { hwids: ['hw-a1', 'hw-a2', 'hw-c', 'hw-ghost'] });
    assert.equal(await worker.drain(), 1);
    const hwids = await requestStatus(ctx, journey, byHwids);
    // a (two hwids, already active) and c are the users; hw-ghost is unknown.
    assert.deepEqual([hwids.status, hwids.selected, hwids.entered, hwids.skipped], ['done', 3, 1, { unknown: 1, already_in_journey: 1 }]);
    assert.deepEqual((await runsOf(ctx.store, journey)).map((run) => run.user_id).sort(), ['a', 'b', 'c']);
    assert.equal((await entryRowCounts(ctx.store))[stageTable(ctx.store)], 0);
  });

  it('enters a user once more when the journey allows re-entry', async () => {
    const journey = await createJourney(ctx, undefined, { params: { allow_reenter: true } });
    const worker = new EntryWorker(ctx.store, { logger });
    await accept(journey, { users: ['b'] });
    await worker.drain();
    await ageRateLimits(ctx.store);
    const again = await accept(journey, { users: ['b', 'c'] });
    await worker.drain();
    const status = await requestStatus(ctx, journey, again);
    assert.deepEqual([status.entered, status.skipped.already_in_journey], [2, 0]);
    assert.deepEqual((await runsOf(ctx.store, journey)).map((run) => run.user_id).sort(), ['b', 'b', 'c']);
  });

  it('enterSmall enters nobody for a request whose lease another worker took, and the others as usual', async () => {
    const stolenJourney = await createJourney(ctx);
    const keptJourney = await createJourney(ctx);
    const stolen = await accept(stolenJourney, { users: ['a', 'b'] });
    const kept = await accept(keptJourney, { users: ['b', 'c', 'ghost'] });
    const now = Date.now();
    const claimed = await ctx.store.entry.claim('worker-a', { now, leaseMs: 1_000 }, 10);
    const mine = claimed.filter((request) => request.uuid === stolen || request.uuid === kept);
    assert.equal(mine.length, 2);
    // worker-a's lease expires; worker-b claims the first request again (and keeps it).
    const retaken = await ctx.store.entry.claim('worker-b', { now: now + 2_000, leaseMs: 60_000 }, 10);
    for (const request of retaken) if (request.uuid !== stolen) await ctx.store.entry.release(request);

    const entries: SmallEntry[] = mine.map((request) => ({ request, allowReenter: false }));
    const terms = { now: now + 2_000, leaseMs: 60_000 };
    const outcomes = await ctx.store.entry.enterSmall(entries, terms);
    const byUuid = new Map(mine.map((request, i) => [request.uuid, outcomes[i]]));
    assert.deepEqual(byUuid.get(stolen), { kind: 'lease-lost' });
    // The kept request's lease was released above: lost too, and nothing of it written.
    assert.deepEqual(byUuid.get(kept), { kind: 'lease-lost' });
    assert.equal((await runsOf(ctx.store, stolenJourney)).length, 0);
    assert.equal((await runsOf(ctx.store, keptJourney)).length, 0);

    const [again] = await ctx.store.entry.claim('worker-c', terms, 10).then((all) => all.filter((r) => r.uuid === kept));
    assert.ok(again);
    assert.deepEqual(await ctx.store.entry.enterSmall([{ request: again, allowReenter: false }], terms), [{ kind: 'done', entered: 2 }]);
    const done = await requestStatus(ctx, keptJourney, kept);
    assert.deepEqual([done.status, done.selected, done.entered, done.skipped.unknown], ['done', 3, 2, 1]);
    assert.equal((await requestStatus(ctx, stolenJourney, stolen)).status, 'processing');
  });

  it('enterSmall of two requests of one journey enters a user they share once, in the first', async () => {
    const journey = await createJourney(ctx);
    const other = await createJourney(ctx);
    const first = await accept(journey, { users: ['a', 'b'] });
    await ageRateLimits(ctx.store);
    const second = await accept(journey, { users: ['b', 'c', 'ghost'] });
    const beside = await accept(other, { hwids: ['hw-a1', 'hw-a2', 'hw-b'] });
    const terms = { now: Date.now(), leaseMs: 60_000 };
    const mine = [first, second, beside];
    const claimed = (await ctx.store.entry.claim('worker-a', terms, 10)).filter((r) => mine.includes(r.uuid));
    claimed.sort((x, y) => mine.indexOf(x.uuid) - mine.indexOf(y.uuid));
    assert.equal(claimed.length, 3);

    const outcomes = await ctx.store.entry.enterSmall(
      claimed.map((request) => ({ request, allowReenter: false })),
      terms,
    );
    assert.deepEqual(outcomes, [
      { kind: 'done', entered: 2 },
      { kind: 'done', entered: 1 },
      { kind: 'done', entered: 2 },
    ]);
    const statuses = await Promise.all([
      requestStatus(ctx, journey, first),
      requestStatus(ctx, journey, second),
      requestStatus(ctx, other, beside),
    ]);
    assert.deepEqual(
      statuses.map((status) => [status.status, status.selected, status.entered, status.skipped]),
      [
        ['done', 2, 2, { unknown: 0, already_in_journey: 0 }],
        ['done', 3, 1, { unknown: 1, already_in_journey: 1 }],
        ['done', 2, 2, { unknown: 0, already_in_journey: 0 }],
      ],
    );
    assert.deepEqual((await runsOf(ctx.store, journey)).map((run) => run.user_id).sort(), ['a', 'b', 'c']);
    assert.deepEqual((await runsOf(ctx.store, other)).map((run) => run.user_id).sort(), ['a', 'b']);
  });

  it('enterSmall leaves the request of a journey paused since the claim to the worker, staged', async () => {
    const journey = await createJourney(ctx);
    const requestUuid = await accept(journey, { users: ['a', 'c', 'ghost'] });
    const terms = { now: Date.now(), leaseMs: 60_000 };
    const [request] = (await ctx.store.entry.claim('worker-a', terms, 10)).filter((r) => r.uuid === requestUuid);
    assert.ok(request);
    await lifecycle(ctx, 'pause', journey);
    assert.deepEqual(await ctx.store.entry.enterSmall([{ request, allowReenter: false }], terms), [
      { kind: 'journey-not-running', status: 'STATUS_PAUSED' },
    ]);
    const staged = await requestStatus(ctx, journey, requestUuid);
    assert.deepEqual([staged.status, staged.selected, staged.skipped.unknown], ['processing', 3, 1]);
    await ctx.store.entry.release(request);
    await lifecycle(ctx, 'start', journey);
    assert.equal(await new EntryWorker(ctx.store, { logger }).drain(), 1);
    const done = await requestStatus(ctx, journey, requestUuid);
    assert.deepEqual([done.status, done.entered, done.skipped.unknown], ['done', 2, 1]);
  });

  it('counts a lease lost to another worker and logs it with the request and journey uuids', async () => {
    const journey = await createJourney(ctx);
    const requestUuid = await accept(journey, { users: ['a', 'b', 'c'] });
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const expiries: string[] = [];
    const t0 = Date.now();
    const leaseMs = 10_000;
    // batchSize 1 makes the request large: entered batch by batch, with a lease check before each.
    const worker = new EntryWorker(ctx.store, {
      logger: pino({ level: 'warn' }, sink),
      batchSize: 1,
      leaseMs,
      clock: () => t0,
      metrics: { leaseExpired: (work) => expiries.push(work) },
    });
    const enterBatch = ctx.store.entry.enterBatch.bind(ctx.store.entry);
    let batches = 0;
    ctx.store.entry.enterBatch = async (request, terms) => {
      if (++batches === 2) {
        // Between batches the lease expires and another worker claims the request.
        const taken = await ctx.store.entry.claim('thief', { now: t0 + leaseMs + 1, leaseMs }, 10);
        assert.ok(taken.some((r) => r.uuid === requestUuid));
      }
      return enterBatch(request, terms);
    };
    try {
      assert.equal(await worker.drain(), 1);
    } finally {
      ctx.store.entry.enterBatch = enterBatch;
    }
    assert.deepEqual(expiries, ['entry_request']);
    const lost = lines.find((line) => line.msg === 'entry request lease lost to another worker');
    assert.ok(lost, JSON.stringify(lines));
    assert.deepEqual([lost.request_uuid, lost.journey_id], [requestUuid, journey]);
    const status = await requestStatus(ctx, journey, requestUuid);
    assert.deepEqual([status.status, status.entered], ['processing', 1]);
  });
});
