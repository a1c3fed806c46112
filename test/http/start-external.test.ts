import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, type TestContext } from '../support/app.js';
import {
  ageRateLimits,
  API_POINT,
  apiPoint,
  createJourney,
  entryRowCounts,
  exitPoint,
  registerDevices,
  requestStatus,
  runsOf,
  segmentPoint,
  setTags,
  startExternal,
} from './start-external-support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describeEachBackend('Start by API: entering users', (dialect) => {
  let ctx: TestContext;
  let worker: EntryWorker;
  before(async () => {
    ctx = await startTestApp(dialect);
    worker = new EntryWorker(ctx.store, { logger: createLogger('silent'), batchSize: 2 });
    await registerDevices(ctx, [
      { hwid: 'hw-ann-phone', userId: 'ann' },
      { hwid: 'hw-ann-tablet', userId: 'ann' },
      { hwid: 'hw-bob', userId: 'bob' },
      { hwid: 'hw-cid', userId: 'cid' },
      { hwid: 'hw-solo' },
    ]);
    await setTags(ctx, 'hw-ann-tablet', { City: 'London', Age: 31 });
    await setTags(ctx, 'hw-bob', { City: 'Paris', Age: 40 });
    await setTags(ctx, 'hw-cid', { City: 'London', Age: 22 });
  });
  after(() => ctx.close());

  it('enters the known users of `users` once each, skips and counts unknown ones, with attribute values over defaults', async () => {
    const journey = await createJourney(ctx);
    const res = await startExternal(ctx, journey, {
      payload: { users: ['ann', 'bob', 'ghost', 'ann', 'hw-solo'], attribute_values: { tier: 'gold' } },
    });
    assert.equal(res.statusCode, 200, res.body);
    const { request_uuid } = res.json<{ request_uuid: string }>();
    assert.match(request_uuid, UUID);

    const queued = await requestStatus(ctx, journey, request_uuid);
    assert.equal(queued.status, 'queued');
    assert.equal(queued.finished_at, null);

    await worker.drain();
    const done = await requestStatus(ctx, journey, request_uuid);
    assert.deepEqual(
      { ...done, created_at: typeof done.created_at, finished_at: typeof done.finished_at },
      {
        request_uuid,
        status: 'done',
        selected: 4,
        entered: 3,
        skipped: { unknown: 1, already_in_journey: 0 },
        created_at: 'string',
        finished_at: 'string',
      },
    );
    assert.ok(Date.parse(done.finished_at as string) >= Date.parse(done.created_at));

    const runs = await runsOf(ctx.store, journey);
    assert.deepEqual(
      runs.map((r) => [r.user_id, r.point_uuid, r.state]),
      [
        ['ann', API_POINT, 'active'],
        ['bob', API_POINT, 'active'],
        ['hw-solo', API_POINT, 'active'],
      ],
    );
    for (const run of runs) assert.deepEqual(run.attributes, { promo_code: 'NONE', tier: 'gold' });
    const devices = await ctx.store.backend.db.selectFrom('devices').select('user_id').execute();
    assert.ok(!devices.some((d) => d.user_id === 'ghost'), 'an unknown user is never created');
  });

  it('enters the users owning `hwids`, each once however many of their devices are named', async () => {
    const journey = await createJourney(ctx);
    const res = await startExternal(ctx, journey, {
      payload: { hwids: ['hw-ann-phone', 'hw-ann-tablet', 'hw-bob', 'hw-nobody'] },
      attribute_values: { promo_code: 'SUMMER25' },
    });
    assert.equal(res.statusCode, 200, res.body);
    await worker.drain();
    const status = await requestStatus(ctx, journey, res.json<{ request_uuid: string }>().request_uuid);
    assert.equal(status.status, 'done');
    assert.equal(status.entered, 2);
    assert.deepEqual(status.skipped, { unknown: 1, already_in_journey: 0 });
    assert.equal(status.selected, 3);
    const runs = await runsOf(ctx.store, journey);
    assert.deepEqual(
      runs.map((r) => [r.user_id, r.attributes]),
      [
        ['ann', { promo_code: 'SUMMER25', tier: '' }],
        ['bob', { promo_code: 'SUMMER25', tier: '' }],
      ],
    );
  });

  it("enters the users owning a device that matches `filter`, narrowed to the journey's application", async () => {
    const journey = await createJourney(ctx);
    const res = await startExternal(ctx, journey, {
      payload: { filter: 'A("TEST0-00001").tags("City").eq("London")', attribute_values: { tier: 'gold' } },
    });
    assert.equal(res.statusCode, 200, res.body);
    await worker.drain();
    const status = await requestStatus(ctx, journey, res.json<{ request_uuid: string }>().request_uuid);
    assert.deepEqual(
      [status.status, status.selected, status.entered, status.skipped],
      ['done', 2, 2, { unknown: 0, already_in_journey: 0 }],
    );
    assert.deepEqual(
      (await runsOf(ctx.store, journey)).map((r) => [r.user_id, r.attributes.tier]),
      [
        ['ann', 'gold'],
        ['cid', 'gold'],
      ],
    );

    const otherApplication = await createJourney(ctx);
    const narrowed = await startExternal(ctx, otherApplication, { filter: 'A("OTHER-99999") + T("Age", gte, 30)' });
    assert.equal(narrowed.statusCode, 200, narrowed.body);
    await worker.drain();
    assert.deepEqual(
      (await runsOf(ctx.store, otherApplication)).map((r) => r.user_id),
      ['ann', 'bob'],
      "another application's code selects none of its devices here",
    );
  });

  it('refuses a filter comparing a tag with a value of the wrong type, naming both', async () => {
    const journey = await createJourney(ctx);
    const before = await entryRowCounts(ctx.store);
    const res = await startExternal(ctx, journey, { payload: { filter: 'T("Age", eq, "old")' } });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /^invalid filter: tag "Age" is Integer; "old" is not /);
    assert.deepEqual(await entryRowCounts(ctx.store), before);
  });

  it('takes a body without `payload` whose top level carries the selector', async () => {
    const journey = await createJourney(ctx);
    const res = await startExternal(ctx, journey, { users: ['cid'], attribute_values: { tier: 'silver' } });
    assert.equal(res.statusCode, 200, res.body);
    await worker.drain();
    const runs = await runsOf(ctx.store, journey);
    assert.deepEqual(
      runs.map((r) => [r.user_id, r.attributes]),
      [['cid', { promo_code: 'NONE', tier: 'silver' }]],
    );
  });

  it('skips users with an active run in the journey, unless the journey allows re-entry', async () => {
    const strict = await createJourney(ctx);
    const reentrant = await createJourney(ctx, undefined, { params: { allow_reenter: true } });
    for (const journey of [strict, reentrant]) {
      assert.equal((await startExternal(ctx, journey, { payload: { users: ['ann', 'bob'] } })).statusCode, 200);
    }
    await worker.drain();
    await ageRateLimits(ctx.store);

    const again = new Map<string, string>();
    for (const journey of [strict, reentrant]) {
      const res = await startExternal(ctx, journey, { payload: { users: ['ann', 'bob', 'cid'] } });
      assert.equal(res.statusCode, 200, res.body);
      again.set(journey, res.json<{ request_uuid: string }>().request_uuid);
    }
    await worker.drain();

    const strictStatus = await requestStatus(ctx, strict, again.get(strict) as string);
    assert.equal(strictStatus.entered, 1);
    assert.deepEqual(strictStatus.skipped, { unknown: 0, already_in_journey: 2 });
    assert.deepEqual(
      (await runsOf(ctx.store, strict)).map((r) => r.user_id),
      ['ann', 'bob', 'cid'],
    );

    const reentrantStatus = await requestStatus(ctx, reentrant, again.get(reentrant) as string);
    assert.equal(reentrantStatus.entered, 3);
    assert.deepEqual(reentrantStatus.skipped, { unknown: 0, already_in_journey: 0 });
    assert.deepEqual(
      (await runsOf(ctx.store, reentrant)).map((r) => r.user_id),
      ['ann', 'ann', 'bob', 'bob', 'cid'],
    );
  });

  it('shows the entry in the journey statistics: totals and the entry point', async () => {
    const journey = await createJourney(ctx, [apiPoint(), exitPoint()], { title: 'Stats' });
    const empty = await ctx.request({ method: 'GET', url: `/api/journey/${journey}/statistics/external` });
    assert.equal(empty.statusCode, 200, empty.body);
    assert.deepEqual(empty.json(), {
      payload: {
        title: 'Stats',
        totals: { entered: 0, in_journey: 0, exited: 0 },
        points: [
          pointStats(API_POINT, `Start ${API_POINT}`, 'POINT_TYPE_START_BY_API', 0, 0),
          pointStats('the-exit', 'Done', 'POINT_TYPE_EXIT', 0, 0),
        ],
      },
    });

    await startExternal(ctx, journey, { payload: { users: ['ann', 'bob', 'cid', 'nobody'] } });
    await worker.drain();
    const res = await ctx.request({ method: 'GET', url: `/api/journey/${journey}/statistics/external` });
    assert.deepEqual(res.json(), {
      payload: {
        title: 'Stats',
        totals: { entered: 3, in_journey: 3, exited: 0 },
        points: [
          pointStats(API_POINT, `Start ${API_POINT}`, 'POINT_TYPE_START_BY_API', 3, 3),
          pointStats('the-exit', 'Done', 'POINT_TYPE_EXIT', 0, 0),
        ],
      },
    });
  });

  it('answers 404 for a request uuid that is unknown, malformed or of another journey', async () => {
    const journey = await createJourney(ctx);
    const other = await createJourney(ctx);
    const res = await startExternal(ctx, other, { payload: { users: ['ann'] } });
    const otherRequest = res.json<{ request_uuid: string }>().request_uuid;
    for (const requestUuid of ['1b4e28ba-2fa1-11d2-883f-0016d3cca427', 'not-a-uuid', otherRequest]) {
      const status = await ctx.request({ method: 'GET', url: `/api/journey/${journey}/start/external/${requestUuid}` });
      assert.equal(status.statusCode, 404, requestUuid);
      assert.equal(status.json().message, `start request ${requestUuid} not found in journey ${journey}`);
    }
    const unauthenticated = await ctx.request({
      method: 'GET',
      url: `/api/journey/${other}/start/external/${otherRequest}`,
      headers: { authorization: 'Api wrong' },
    });
    assert.equal(unauthenticated.statusCode, 401);
  });
});

function pointStats(uuid: string, pointTitle: string, point_type: string, entered: number, in_point: number) {
  return { uuid, pointTitle, point_type, entered, in_point, passed: 0, pointStat: { sent: 0, failed: 0 } };
}

describeEachBackend('Start by API: rate limit', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  it('accepts one request per minute per entry point, with Retry-After on the rest', async () => {
    const journey = await createJourney(ctx);
    const other = await createJourney(ctx);
    assert.equal((await startExternal(ctx, journey, { payload: { users: ['a'] } })).statusCode, 200);

    const limited = await startExternal(ctx, journey, { payload: { users: ['b'] } });
    assert.equal(limited.statusCode, 400);
    assert.equal(limited.json().message, 'Enhance your calm! only one request per minute is allowed');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']}`);

    assert.equal((await startExternal(ctx, other, { payload: { users: ['a'] } })).statusCode, 200, 'per entry point');
    await ageRateLimits(ctx.store);
    assert.equal((await startExternal(ctx, journey, { payload: { users: ['c'] } })).statusCode, 200, 'a minute later');
  });

  it('counts only accepted requests: refused ones neither open nor extend the window', async () => {
    const journey = await createJourney(ctx);
    const unknownAttribute = await startExternal(ctx, journey, { payload: { users: ['a'], attribute_values: { x: '1' } } });
    assert.equal(unknownAttribute.json().message, 'unknown attribute: x');
    assert.equal((await startExternal(ctx, journey, { payload: { users: ['a'] } })).statusCode, 200);
    for (let i = 0; i < 3; i++) assert.equal((await startExternal(ctx, journey, { users: ['a'] })).statusCode, 400);
    await ageRateLimits(ctx.store);
    assert.equal((await startExternal(ctx, journey, { payload: { users: ['a'] } })).statusCode, 200);
  });

  it('accepts exactly one of 50 concurrent requests to one entry point', async () => {
    const journey = await createJourney(ctx);
    const before = await entryRowCounts(ctx.store);
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => startExternal(ctx, journey, { payload: { users: [`u${i}`] } })));
    const accepted = replies.filter((r) => r.statusCode === 200);
    assert.equal(accepted.length, 1);
    for (const r of replies.filter((r) => r.statusCode !== 200)) {
      assert.equal(r.statusCode, 400);
      assert.equal(r.json().message, 'Enhance your calm! only one request per minute is allowed');
      assert.ok(r.headers['retry-after']);
    }
    const afterCounts = await entryRowCounts(ctx.store);
    assert.equal(afterCounts.entry_requests, (before.entry_requests ?? 0) + 1);
  });
});

describeEachBackend('Start by API: refusals, in the contract order', (dialect) => {
  let ctx: TestContext;
  const journeys: Record<string, string> = {};
  let otherAppJourney: string;
  before(async () => {
    ctx = await startTestApp(dialect);
    journeys.running = await createJourney(ctx, [
      apiPoint(API_POINT, { attributes: [{ name: 'promo_code' }, { name: 'tier', default: 'basic' }] }),
      exitPoint(),
    ]);
    journeys.draft = await createJourney(ctx, undefined, { start: false });
    journeys.noApiPoint = await createJourney(ctx, [segmentPoint(), exitPoint()]);
    journeys.twoApiPoints = await createJourney(ctx, [apiPoint('api-1'), apiPoint('api-2'), exitPoint()]);
    journeys.deactivated = await createJourney(ctx, [apiPoint(API_POINT, { deactivated: true }), exitPoint()]);
    journeys.limited = await createJourney(ctx);
    assert.equal((await startExternal(ctx, journeys.limited, { payload: { users: ['x'] } })).statusCode, 200);

    const otherApp = await ctx.store.applications.create('OTHER-00002', 'other');
    await ctx.store.applications.createToken('other-token', 'api', 'other', [otherApp.id]);
    const created = await ctx.request({
      method: 'POST',
      url: '/api/v3/journeygateway',
      headers: { authorization: 'Api other-token' },
      payload: { title: 'theirs', params: { application_code: 'OTHER-00002' }, points: [apiPoint(), exitPoint()] },
    });
    otherAppJourney = created.json<{ info: { uuid: string } }>().info.uuid;
    await ctx.request({
      method: 'POST',
      url: '/api/v3/journeygateway/start',
      headers: { authorization: 'Api other-token' },
      payload: { uuid: otherAppJourney },
    });
  });
  after(() => ctx.close());

  const ok = { payload: { users: ['u1'] } };
  const manyIds = (n: number) => Array.from({ length: n }, (_, i) => `user-${i}`);

  interface Case {
    name: string;
    journey?: string | (() => string);
    body: unknown;
    headers?: Record<string, string>;
    status: number;
    message: string | RegExp;
  }

  const cases: Case[] = [
    { name: 'no token', body: ok, headers: { authorization: '' }, status: 401, message: /missing Authorization/ },
    { name: 'wrong token', body: ok, headers: { authorization: 'Api nope' }, status: 401, message: 'unknown token' },
    { name: 'wrong scheme', body: ok, headers: { authorization: 'Token test-api-token' }, status: 401, message: /malformed/ },
    {
      name: 'auth before a malformed body',
      body: '{"payload":',
      headers: { authorization: 'Api nope' },
      status: 401,
      message: 'unknown token',
    },
    { name: 'malformed JSON', body: '{"payload": {"users": ["a"]', status: 400, message: /JSON/ },
    { name: 'body not an object', body: '["a"]', status: 400, message: /body must be object/ },
    { name: 'payload not an object', body: { payload: ['a'] }, status: 400, message: 'payload must be an object' },
    { name: 'payload a string', body: { payload: 'users' }, status: 400, message: 'payload must be an object' },
    { name: '1 nothing set', body: { payload: {} }, status: 400, message: 'one of users, hwids or filter must be provided' },
    {
      name: '1 empty list and empty string',
      body: { payload: { users: [], filter: '' } },
      status: 400,
      message: 'one of users, hwids or filter must be provided',
    },
    {
      name: '1 null selectors',
      body: { payload: { hwids: null } },
      status: 400,
      message: 'one of users, hwids or filter must be provided',
    },
    {
      name: '1 before 3: bad attribute values without a selector',
      body: { payload: { attribute_values: 5 } },
      status: 400,
      message: 'one of users, hwids or filter must be provided',
    },
    {
      name: '1 before 4: unknown journey',
      journey: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
      body: {},
      status: 400,
      message: 'one of users, hwids or filter must be provided',
    },
    {
      name: '2 users and hwids',
      body: { payload: { users: ['a'], hwids: ['b'] } },
      status: 400,
      message: 'only one of users, hwids or filter must be provided',
    },
    {
      name: '2 all three at the top level',
      body: { users: ['a'], hwids: ['b'], filter: 'A("X")' },
      status: 400,
      message: 'only one of users, hwids or filter must be provided',
    },
    {
      name: '2 before 3: one of them of a wrong type',
      body: { payload: { users: 7, filter: 'A(' } },
      status: 400,
      message: 'only one of users, hwids or filter must be provided',
    },
    {
      name: '3 ids that are numbers',
      body: { payload: { users: ['a', 42] } },
      status: 400,
      message: 'payload.users[1] must be a string, got 42',
    },
    { name: '3 ids not a list', body: { payload: { hwids: 'hw-1' } }, status: 400, message: 'payload.hwids must be a list of strings' },
    { name: '3 an empty id', body: { users: ['a', ''] }, status: 400, message: 'users[1] must not be empty' },
    {
      name: '3 a user id of 256 characters',
      body: { payload: { users: ['a', 'b', 'c', 'u'.repeat(256)] } },
      status: 400,
      message: 'payload.users[3] must be at most 255 characters',
    },
    {
      name: '3 an hwid of 1 MB',
      body: { payload: { hwids: ['h'.repeat(1_000_000)] } },
      status: 400,
      message: 'payload.hwids[0] must be at most 255 characters',
    },
    { name: '3 a user id with NUL', body: { users: ['a', 'a\u0000b'] }, status: 400, message: 'body.users[1] contains a NUL character' },
    {
      name: '3 an hwid with a lone surrogate',
      body: { payload: { hwids: ['h\udc00'] } },
      status: 400,
      message: 'body.payload.hwids[0] contains a lone UTF-16 surrogate',
    },
    {
      name: '3 100,001 ids',
      body: { payload: { users: manyIds(100_001) } },
      status: 400,
      message: 'payload.users must contain at most 100000 ids, got 100001',
    },
    {
      name: '3 attribute value not a string',
      body: { payload: { users: ['a'], attribute_values: { promo_code: 5 } } },
      status: 400,
      message: 'payload.attribute_values.promo_code must be a string, got 5',
    },
    {
      name: '3 attribute values not an object',
      body: { payload: { users: ['a'] }, attribute_values: ['x'] },
      status: 400,
      message: 'attribute_values must be an object of strings',
    },
    {
      name: '3 attribute values given twice',
      body: { payload: { users: ['a'], attribute_values: {} }, attribute_values: {} },
      status: 400,
      message: 'attribute_values must be given once: inside payload or at the top level',
    },
    {
      name: '3 filter not a string',
      body: { payload: { filter: ['A("X")'] } },
      status: 400,
      message: 'payload.filter must be a string, got ["A(\\"X\\")"]',
    },
    {
      name: '3 filter syntax error',
      body: { payload: { filter: 'A("TEST0-00001").tags("City").eq("London"' } },
      status: 400,
      message: 'invalid filter: expected ")" at position 42',
    },
    {
      name: '3 filter unknown operator',
      body: { filter: 'T("City", eqq, "x")' },
      status: 400,
      message: 'invalid filter: unknown operator "eqq" at position 11',
    },
    {
      name: '3 before 4: unknown journey',
      journey: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
      body: { users: [1] },
      status: 400,
      message: 'users[0] must be a string, got 1',
    },
    {
      name: '4 unknown journey',
      journey: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
      body: ok,
      status: 404,
      message: 'journey 1b4e28ba-2fa1-11d2-883f-0016d3cca427 not found',
    },
    {
      name: '4 journey id not a uuid',
      journey: 'not-a-uuid',
      body: ok,
      status: 404,
      message: 'journey not found: the id is not a journey uuid',
    },
    { name: "4 another application's journey", journey: () => otherAppJourney, body: ok, status: 404, message: /^journey .* not found$/ },
    { name: '5 draft journey', journey: () => journeys.draft as string, body: ok, status: 400, message: 'Journey is not running' },
    {
      name: '5 before 9',
      journey: () => journeys.draft as string,
      body: { users: ['a'], attribute_values: { nope: 'x' } },
      status: 400,
      message: 'Journey is not running',
    },
    { name: '6 no API entry point', journey: () => journeys.noApiPoint as string, body: ok, status: 400, message: 'zero api start points' },
    {
      name: '7 two API entry points',
      journey: () => journeys.twoApiPoints as string,
      body: ok,
      status: 400,
      message: 'there is more then one api start point',
    },
    { name: '8 deactivated', journey: () => journeys.deactivated as string, body: ok, status: 400, message: 'point is deactivated' },
    {
      name: '9 unknown attribute',
      body: { payload: { users: ['a'], attribute_values: { promo_code: 'x', color: 'red', size: 'L' } } },
      status: 400,
      message: 'unknown attribute: color',
    },
    {
      name: '9 first in request order, integer-like names too',
      body: '{"payload":{"users":["a"],"attribute_values":{"tier":"x","zeta":"1","7":"2"}}}',
      status: 400,
      message: 'unknown attribute: zeta',
    },
    {
      name: '9 at the top level',
      body: { users: ['a'], attribute_values: { tier: 'x', '': 'y' } },
      status: 400,
      message: 'unknown attribute: ',
    },
    {
      name: '9 before 10',
      journey: () => journeys.limited as string,
      body: { users: ['a'], attribute_values: { zz: 'y' } },
      status: 400,
      message: 'unknown attribute: zz',
    },
    {
      name: '10 rate limited',
      journey: () => journeys.limited as string,
      body: ok,
      status: 400,
      message: 'Enhance your calm! only one request per minute is allowed',
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status}`, async () => {
      const before = await entryRowCounts(ctx.store);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- it is needed: without it `journey` may be undefined.
      const journey = typeof c.journey === 'function' ? c.journey() : (c.journey ?? (journeys.running as string));
      const res = await startExternal(ctx, journey, c.body, c.headers);
      assert.equal(res.statusCode, c.status, res.body);
      const { message } = res.json<{ message: string }>();
      if (typeof c.message === 'string') assert.equal(message, c.message);
      else assert.match(message, c.message);
      assert.deepEqual(await entryRowCounts(ctx.store), before, 'a refused request writes nothing');
    });
  }

  it('answers the rate limit with Retry-After only', async () => {
    const res = await startExternal(ctx, journeys.limited as string, ok);
    assert.ok(Number(res.headers['retry-after']) >= 1);
    const other = await startExternal(ctx, journeys.running as string, { payload: {} });
    assert.equal(other.headers['retry-after'], undefined);
  });

  it('accepts a valid request once every refusal above has passed', async () => {
    const res = await startExternal(ctx, journeys.running as string, { payload: { users: ['a'], attribute_values: { tier: 'x' } } });
    assert.equal(res.statusCode, 200, res.body);
  });
});
