import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { point } from '../support/journey-fixtures.js';
import { startTestApp, type TestContext } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';
import {
  activeRuns,
  apiEntry,
  createJourney,
  eventEntry,
  EXIT,
  exitPoint,
  lifecycle,
  placeWaitingRun,
  postEvent,
  registerDevices,
  runsOf,
  statistics,
} from './events-support.js';

const USERS = ['ann', 'bob', 'cid'];

describeEachBackend('postEvent enters users at EVENT entry points', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
    await registerDevices(
      ctx,
      USERS.map((userId) => ({ hwid: `hw-${userId}`, userId })),
    );
  });
  after(() => ctx.close());

  it('enters the user once at the event point, due now, with the event attributes as text', async () => {
    const journey = await createJourney(ctx, [eventEntry('on-signup', 'signup'), exitPoint()]);
    const before = Date.now();
    await postEvent(ctx, { userId: 'ann' }, 'signup', { plan: 'pro', seats: 3, trial: true, coupon: null, tags: ['a'] });
    await postEvent(ctx, { hwid: 'hw-ann' }, 'signup', { plan: 'team' });

    const runs = await runsOf(ctx.store, journey);
    assert.equal(runs.length, 1, 'without allow_reenter the active run keeps the user from entering again');
    const [run] = runs;
    assert.deepEqual([run?.user_id, run?.point_uuid, run?.state], ['ann', 'on-signup', 'active']);
    assert.ok((run?.due_at ?? 0) >= before && (run?.due_at ?? 0) <= Date.now());
    assert.deepEqual(run?.attributes, { plan: 'pro', seats: '3', trial: 'true', coupon: '', tags: '["a"]' });
    const stats = await statistics(ctx, journey);
    assert.deepEqual(stats.totals, { entered: 1, in_journey: 1, exited: 0 });
    assert.deepEqual(stats.points['on-signup'], { entered: 1, in_point: 1, passed: 0 });
  });

  it('enters a user once when the same event arrives many times at once', async () => {
    const journey = await createJourney(ctx, [eventEntry('on-rush', 'rush'), exitPoint()]);
    await Promise.all(Array.from({ length: 12 }, () => postEvent(ctx, { userId: 'cid' }, 'rush')));
    assert.deepEqual(await activeRuns(ctx.store, journey), ['cid@on-rush']);
    assert.equal((await statistics(ctx, journey)).points['on-rush']?.entered, 1);
  });

  it('enters the user again on every matching event with allow_reenter', async () => {
    const journey = await createJourney(ctx, [eventEntry('on-open', 'open'), exitPoint()], {
      params: { allow_reenter: true },
    });
    await postEvent(ctx, { userId: 'bob' }, 'open');
    await postEvent(ctx, { userId: 'bob' }, 'open');
    assert.deepEqual(await activeRuns(ctx.store, journey), ['bob@on-open', 'bob@on-open']);
    assert.equal((await statistics(ctx, journey)).points['on-open']?.entered, 2);
  });

  it('enters only on an event of that name whose attributes meet every condition', async () => {
    const journey = await createJourney(ctx, [
      eventEntry('big-buy', 'purchase', {
        conditions: [
          { attribute: 'amount', operator: 'gte', value: 100 },
          { attribute: 'currency', operator: 'in', value: ['EUR', 'USD'] },
        ],
      }),
      exitPoint(),
    ]);
    await postEvent(ctx, { userId: 'ann' }, 'purchase', { amount: 50, currency: 'EUR' });
    await postEvent(ctx, { userId: 'ann' }, 'purchase', { amount: 500, currency: 'GBP' });
    await postEvent(ctx, { userId: 'ann' }, 'Purchase', { amount: 500, currency: 'EUR' });
    await postEvent(ctx, { userId: 'bob' }, 'purchase', { amount: '250', currency: 'USD' });
    assert.deepEqual(await activeRuns(ctx.store, journey), ['bob@big-buy']);
  });

  it('ignores a deactivated event point and takes the first matching point of a journey once', async () => {
    const journey = await createJourney(ctx, [
      eventEntry('off', 'visit', { deactivated: true }),
      eventEntry('vip', 'visit', { conditions: [{ attribute: 'vip', operator: 'eq', value: true }] }),
      eventEntry('any-visit', 'visit'),
      exitPoint(),
    ]);
    await postEvent(ctx, { userId: 'ann' }, 'visit', { vip: true });
    await postEvent(ctx, { userId: 'bob' }, 'visit', { vip: false });
    assert.deepEqual(await activeRuns(ctx.store, journey), ['ann@vip', 'bob@any-visit']);
    const stats = await statistics(ctx, journey);
    assert.equal(stats.points.off?.entered, 0);
  });

  it('enters no one while the journey is paused, in draft or finished, and again once it runs', async () => {
    const journey = await createJourney(ctx, [eventEntry('e', 'ping'), exitPoint()], { start: false });
    await postEvent(ctx, { userId: 'cid' }, 'ping');
    await lifecycle(ctx, 'start', journey);
    await lifecycle(ctx, 'pause', journey);
    await postEvent(ctx, { userId: 'cid' }, 'ping');
    assert.deepEqual(await runsOf(ctx.store, journey), []);
    await lifecycle(ctx, 'start', journey);
    await postEvent(ctx, { userId: 'cid' }, 'ping');
    assert.deepEqual(await activeRuns(ctx.store, journey), ['cid@e']);
    await lifecycle(ctx, 'finish', journey);
    await postEvent(ctx, { userId: 'ann' }, 'ping');
    assert.equal((await runsOf(ctx.store, journey)).filter((r) => r.user_id === 'ann').length, 0);
  });

  it('enters users of the journey application only', async () => {
    const journey = await createJourney(ctx, [eventEntry('e', 'hello'), exitPoint()]);
    const other = await ctx.store.applications.create('OTHER-00001', 'Other');
    await ctx.store.applications.createToken('other-token', 'api', 'other', [other.id]);
    const otherAuth = { authorization: 'Api other-token' };
    await registerDevices(ctx, [{ hwid: 'o-1', userId: 'ann' }], 'OTHER-00001', otherAuth);
    const res = await ctx.request({
      method: 'POST',
      url: '/json/1.3/postEvent',
      headers: otherAuth,
      payload: { request: { application: 'OTHER-00001', userId: 'ann', event: 'hello' } },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(await runsOf(ctx.store, journey), []);
  });
});

const WAIT = 'wait-buy';
const BOUGHT = 'thank-you';
const BIG = 'vip-exit';

/** entry (API) → wait for purchase: amount ≥ 100 → BIG, any purchase → BOUGHT, timeout → EXIT. */
function waitForPurchase() {
  return [
    apiEntry('api', WAIT),
    point(
      WAIT,
      'POINT_TYPE_WAIT_EVENT',
      {
        wait_event: {
          branches: [
            { key: 'big', event_name: 'purchase', event_conditions: [{ attribute: 'amount', operator: 'gte', value: 100 }] },
            { key: 'bought', event_name: 'purchase' },
          ],
          timeout_seconds: 3600,
        },
      },
      { big: BIG, bought: BOUGHT, default: EXIT },
    ),
    exitPoint(BIG),
    exitPoint(BOUGHT),
    exitPoint(),
  ];
}

describeEachBackend('postEvent moves runs waiting at WAIT_EVENT points', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
    await registerDevices(
      ctx,
      USERS.map((userId) => ({ hwid: `hw-${userId}`, userId })),
    );
  });
  after(() => ctx.close());

  it('moves the run to the first matching branch, due now, counting passed and entered', async () => {
    const journey = await createJourney(ctx, waitForPurchase());
    const timeout = Date.now() + 3_600_000;
    const ann = await placeWaitingRun(ctx.store, journey, 'ann', WAIT, timeout);
    const bob = await placeWaitingRun(ctx.store, journey, 'bob', WAIT, timeout);
    const cid = await placeWaitingRun(ctx.store, journey, 'cid', WAIT, timeout);

    const before = Date.now();
    await postEvent(ctx, { userId: 'ann' }, 'purchase', { amount: 250 });
    await postEvent(ctx, { hwid: 'hw-bob' }, 'purchase', { amount: 20 });
    await postEvent(ctx, { userId: 'cid' }, 'browse');

    const runs = new Map((await runsOf(ctx.store, journey)).map((run) => [run.id, run]));
    assert.equal(runs.get(ann)?.point_uuid, BIG);
    assert.equal(runs.get(bob)?.point_uuid, BOUGHT);
    for (const id of [ann, bob]) {
      const due = runs.get(id)?.due_at ?? 0;
      assert.ok(due >= before && due <= Date.now(), 'a moved run is due at once');
    }
    assert.deepEqual([runs.get(cid)?.point_uuid, runs.get(cid)?.due_at], [WAIT, timeout], 'left for its timeout');
    const row = await ctx.store.backend.db.selectFrom('runs').select('waiting_point').where('id', '=', ann).executeTakeFirst();
    assert.equal(row?.waiting_point, null, 'the run has just arrived at the branch point');

    const stats = await statistics(ctx, journey);
    assert.deepEqual(stats.points[WAIT], { entered: 0, in_point: 1, passed: 2 });
    assert.deepEqual(stats.points[BIG], { entered: 1, in_point: 1, passed: 0 });
    assert.deepEqual(stats.points[BOUGHT], { entered: 1, in_point: 1, passed: 0 });

    await postEvent(ctx, { userId: 'ann' }, 'purchase', { amount: 900 });
    assert.equal((await runsOf(ctx.store, journey)).find((r) => r.id === ann)?.point_uuid, BIG, 'moved once');
  });

  it('leaves a run whose batch a scheduler holds under a live lease, and runs of paused journeys', async () => {
    const journey = await createJourney(ctx, waitForPurchase());
    const leased = await placeWaitingRun(ctx.store, journey, 'ann', WAIT, Date.now());
    await ctx.store.backend.db
      .updateTable('runs')
      .set({ lease_owner: 'scheduler-1', lease_expires_at: Date.now() + 60_000 })
      .where('id', '=', leased)
      .execute();
    await postEvent(ctx, { userId: 'ann' }, 'purchase', { amount: 5 });
    assert.equal((await runsOf(ctx.store, journey)).find((r) => r.id === leased)?.point_uuid, WAIT);

    const paused = await createJourney(ctx, waitForPurchase());
    await placeWaitingRun(ctx.store, paused, 'bob', WAIT, Date.now() + 60_000);
    await lifecycle(ctx, 'pause', paused);
    await postEvent(ctx, { userId: 'bob' }, 'purchase', { amount: 5 });
    assert.deepEqual(await activeRuns(ctx.store, paused), [`bob@${WAIT}`]);
    await lifecycle(ctx, 'start', paused);
    await postEvent(ctx, { userId: 'bob' }, 'purchase', { amount: 5 });
    assert.deepEqual(await activeRuns(ctx.store, paused), [`bob@${BOUGHT}`]);
  });

  it('moves every waiting run of the user across journeys, and enters in the same event', async () => {
    const first = await createJourney(ctx, waitForPurchase());
    const second = await createJourney(ctx, waitForPurchase());
    const entry = await createJourney(ctx, [eventEntry('on-buy', 'purchase'), exitPoint()]);
    await placeWaitingRun(ctx.store, first, 'cid', WAIT, Date.now() + 60_000);
    await placeWaitingRun(ctx.store, second, 'cid', WAIT, Date.now() + 60_000);
    await postEvent(ctx, { userId: 'cid' }, 'purchase', { amount: 100 });
    assert.deepEqual(await activeRuns(ctx.store, first), [`cid@${BIG}`]);
    assert.deepEqual(await activeRuns(ctx.store, second), [`cid@${BIG}`]);
    assert.deepEqual(await activeRuns(ctx.store, entry), ['cid@on-buy']);
  });
});
