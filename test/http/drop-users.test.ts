import assert from 'node:assert/strict';
import { after, before, beforeEach, it } from 'node:test';
import { enqueueMessages, type SeedMessage } from '../support/outbox.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';
import {
  activeRuns,
  createJourney,
  eventEntry,
  exitPoint,
  postEvent,
  registerDevices,
  runsOf,
  statistics,
} from '../engine/events-support.js';

const USERS = ['ann', 'bob', 'cid'];
const OTHER_APP = 'OTHER-00003';
const OTHER_AUTH = { authorization: 'Api other-tenant-token' };
const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000';

describeEachBackend('POST /api/journey/drop-users/external', (dialect) => {
  let ctx: TestContext;
  let first: string;
  let second: string;
  let foreign: string;

  before(async () => {
    ctx = await startTestApp(dialect);
    await registerDevices(
      ctx,
      USERS.map((userId) => ({ hwid: `hw-${userId}`, userId })),
    );
    const other = await ctx.store.applications.create(OTHER_APP, 'Other');
    await ctx.store.applications.createToken('other-tenant-token', 'api', 'other', [other.id]);
    await registerDevices(ctx, [{ hwid: 'o-ann', userId: 'ann' }], OTHER_APP, OTHER_AUTH);
  });
  after(() => ctx.close());

  /** Fresh journeys for every test: two of the test application and one of another tenant, all with ann, bob and cid in. */
  beforeEach(async () => {
    first = await createJourney(ctx, [eventEntry('in', 'join'), exitPoint()]);
    second = await createJourney(ctx, [eventEntry('in', 'join'), exitPoint()]);
    foreign = await createJourney(ctx, [eventEntry('in', 'join'), exitPoint()], { app: OTHER_APP, headers: OTHER_AUTH });
    for (const user of USERS) await postEvent(ctx, { userId: user }, 'join');
    const res = await ctx.request({
      method: 'POST',
      url: '/json/1.3/postEvent',
      headers: OTHER_AUTH,
      payload: { request: { application: OTHER_APP, userId: 'ann', event: 'join' } },
    });
    assert.equal(res.statusCode, 200, res.body);
  });

  function drop(body: unknown, headers: Record<string, string> = {}) {
    return ctx.request({
      method: 'POST',
      url: '/api/journey/drop-users/external',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  /** A pending push for `userId`'s run in `journeyUuid`, as the engine would have queued it. */
  async function queueMessage(journeyUuid: string, userId: string): Promise<void> {
    const journey = await ctx.store.journeys.findByUuid(journeyUuid);
    const run = (await runsOf(ctx.store, journeyUuid)).find((r) => r.user_id === userId);
    assert.ok(journey && run);
    const message: SeedMessage = {
      applicationId: journey.applicationId,
      journeyId: journey.id,
      runId: run.id,
      pointUuid: 'in',
      userId,
      hwid: `hw-${userId}`,
      message: { channel: 'push', recipient: `token-${userId}`, payload: { title: 'Hi', body: 'Hello' } },
      deliverAt: Date.now() + 3_600_000,
    };
    assert.equal(await enqueueMessages(ctx.store, [message]), 1);
  }

  async function outboxStatus(journeyUuid: string): Promise<Record<string, string>> {
    const rows = await ctx.store.backend.db
      .selectFrom('outbox as o')
      .innerJoin('journeys as j', 'j.id', 'o.journey_id')
      .select(['o.user_id', 'o.status'])
      .where('j.uuid', '=', journeyUuid)
      .execute();
    return Object.fromEntries(rows.map((r) => [r.user_id, r.status]));
  }

  it('ends the users’ runs in the listed journeys at once and cancels their unsent messages', async () => {
    await queueMessage(first, 'ann');
    await queueMessage(first, 'cid');
    await queueMessage(second, 'ann');
    const before = Date.now();
    const res = await drop({ user_ids: ['ann', 'bob', 'ann', 'nobody'], journey_uuids: [first.toUpperCase()] });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { dropped: 2, cancelled_messages: 1 });

    const runs = await runsOf(ctx.store, first);
    const ann = runs.find((r) => r.user_id === 'ann');
    assert.equal(ann?.state, 'dropped');
    assert.ok((ann?.exited_at ?? 0) >= before, 'the drop time is recorded');
    assert.deepEqual(await activeRuns(ctx.store, first), ['cid@in']);
    assert.deepEqual(await activeRuns(ctx.store, second), ['ann@in', 'bob@in', 'cid@in'], 'other journeys untouched');
    assert.deepEqual(await outboxStatus(first), { ann: 'cancelled', cid: 'pending' });
    assert.deepEqual(await outboxStatus(second), { ann: 'pending' });

    const stats = await statistics(ctx, first);
    assert.deepEqual(stats.totals, { entered: 3, in_journey: 1, exited: 2 });
    assert.deepEqual(stats.points.in, { entered: 3, in_point: 1, passed: 0 });

    const again = await drop({ user_ids: ['ann'], journey_uuids: [first] });
    assert.deepEqual(again.json(), { dropped: 0, cancelled_messages: 0 }, 'dropping twice ends nothing more');
    await postEvent(ctx, { userId: 'ann' }, 'join');
    assert.deepEqual(await activeRuns(ctx.store, first), ['ann@in', 'cid@in'], 'a dropped user may enter again');
  });

  it('with all_journeys ends the users’ runs in every journey the token can see, and no other', async () => {
    const annActive = async (applicationCode: string) => {
      const row = await ctx.store.backend.db
        .selectFrom('runs as r')
        .innerJoin('applications as a', 'a.id', 'r.application_id')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('a.code', '=', applicationCode)
        .where('r.user_id', '=', 'ann')
        .where('r.state', '=', 'active')
        .executeTakeFirstOrThrow();
      return Number(row.n);
    };
    const [ownBefore, foreignBefore] = [await annActive(TEST_APP_CODE), await annActive(OTHER_APP)];
    const res = await drop({ user_ids: ['ann'], all_journeys: true });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<{ dropped: number }>().dropped, ownBefore);
    assert.deepEqual([await annActive(TEST_APP_CODE), await annActive(OTHER_APP)], [0, foreignBefore]);
    assert.deepEqual(await activeRuns(ctx.store, first), ['bob@in', 'cid@in']);
    assert.deepEqual(await activeRuns(ctx.store, second), ['bob@in', 'cid@in']);
    assert.deepEqual(await activeRuns(ctx.store, foreign), ['ann@in'], 'another tenant’s journey is not touched');
  });

  it('answers 404 for a journey the token cannot see, writing nothing', async () => {
    for (const journeyUuids of [[UNKNOWN_UUID], [first, foreign]]) {
      const res = await drop({ user_ids: ['ann'], journey_uuids: journeyUuids });
      assert.equal(res.statusCode, 404, res.body);
      assert.match(res.json<{ message: string }>().message, /^journey [0-9a-f-]+ not found$/);
    }
    assert.deepEqual(await activeRuns(ctx.store, first), ['ann@in', 'bob@in', 'cid@in']);
    assert.deepEqual(await activeRuns(ctx.store, foreign), ['ann@in']);
  });

  it('refuses bad input with 400 naming the field, writing nothing', async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => `u${i}`);
    const cases: [unknown, RegExp][] = [
      ['{"user_ids": [', /JSON/i],
      [[], /^body must be object$/],
      [{ journey_uuids: [first] }, /^user_ids must be a non-empty list of user ids$/],
      [{ user_ids: [], journey_uuids: [first] }, /^user_ids must be a non-empty list/],
      [{ user_ids: 'ann', journey_uuids: [first] }, /^user_ids must be a non-empty list/],
      [{ user_ids: ['ann', 7], journey_uuids: [first] }, /^user_ids\[1\] must be a string of 1 to 255 characters, got 7$/],
      [{ user_ids: [''], journey_uuids: [first] }, /^user_ids\[0\] must be a string/],
      [{ user_ids: ['x'.repeat(256)], journey_uuids: [first] }, /^user_ids\[0\] must be a string of 1 to 255/],
      [{ user_ids: many, journey_uuids: [first] }, /^user_ids must contain at most 10000 ids, got 10001$/],
      [{ user_ids: ['ann'] }, /^one of journey_uuids or all_journeys must be provided$/],
      [{ user_ids: ['ann'], journey_uuids: [] }, /^one of journey_uuids or all_journeys must be provided$/],
      [{ user_ids: ['ann'], all_journeys: false }, /^one of journey_uuids or all_journeys must be provided$/],
      [{ user_ids: ['ann'], journey_uuids: [first], all_journeys: true }, /^only one of journey_uuids or all_journeys/],
      [{ user_ids: ['ann'], all_journeys: 'yes' }, /^all_journeys must be true or false, got "yes"$/],
      [{ user_ids: ['ann'], journey_uuids: first }, /^journey_uuids must be a list of journey uuids/],
      [{ user_ids: ['ann'], journey_uuids: [first, 'not-a-uuid'] }, /^journey_uuids\[1\] must be a journey uuid, got "not-a-uuid"$/],
      [{ user_ids: ['ann'], journey_uuids: [first, 42] }, /^journey_uuids\[1\] must be a journey uuid, got 42$/],
      [
        { user_ids: ['ann'], journey_uuids: Array.from({ length: 101 }, () => first) },
        /^journey_uuids must contain at most 100 uuids, got 101$/,
      ],
    ];
    for (const [body, message] of cases) {
      const res = await drop(body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body).slice(0, 80)}: ${res.body}`);
      assert.match(res.json<{ message: string }>().message, message, JSON.stringify(body).slice(0, 80));
    }
    for (const journey of [first, second]) {
      assert.deepEqual(await activeRuns(ctx.store, journey), ['ann@in', 'bob@in', 'cid@in']);
    }
  });

  it('needs a server API token', async () => {
    const missing = await drop({ user_ids: ['ann'], all_journeys: true }, { authorization: '' });
    assert.equal(missing.statusCode, 401, missing.body);
    const wrong = await drop({ user_ids: ['ann'], all_journeys: true }, { authorization: 'Api nope' });
    assert.equal(wrong.statusCode, 401, wrong.body);
    assert.deepEqual(await activeRuns(ctx.store, first), ['ann@in', 'bob@in', 'cid@in']);
  });
});
