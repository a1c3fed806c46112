import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { POINT_TYPES } from '../../src/domain/journey.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { authorization, countJourneys, createJourney, journeyBody, otherTenant, readJourney, transition } from '../support/journey-api.js';
import { everyPointType, minimalPoints, point } from '../support/journey-fixtures.js';

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describeEachBackend('journey definitions API', (dialect) => {
  let ctx: TestContext;
  let otherApp: Record<string, string>;
  before(async () => {
    ctx = await startTestApp(dialect);
    otherApp = await otherTenant(ctx, 'OTHER-00002', 'other-token');
  });
  after(() => ctx.close());

  it('creates a journey in STATUS_DRAFT and returns the journey object', async () => {
    const points = everyPointType().map((p) => ({ ...p, position: { x: 10, y: 20 } }));
    const params = { application_code: TEST_APP_CODE, allow_reenter: true, silent_hours: { from: '22:00', to: '08:00' } };
    const res = await ctx.request({
      method: 'POST',
      url: '/api/v3/journeygateway',
      payload: { title: 'Welcome series', params, points },
    });
    assert.equal(res.statusCode, 200, res.body);
    const journey = res.json();
    assert.deepEqual(Object.keys(journey).sort(), ['info', 'points']);
    assert.match(journey.info.uuid, UUID);
    assert.equal(journey.info.title, 'Welcome series');
    assert.equal(journey.info.status, 'STATUS_DRAFT');
    assert.match(journey.info.created_at, ISO_INSTANT);
    assert.equal(journey.info.updated_at, journey.info.created_at);
    assert.deepEqual(journey.info.params, params);
    // Points come back as sent, including fields journeyd does not interpret (e.g. a canvas position).
    assert.deepEqual(journey.points, points);
    assert.deepEqual(await readJourney(ctx, journey.info.uuid), journey);
  });

  it('accepts an incomplete draft: point fields are only checked on start', async () => {
    const draft = [point('p1', 'POINT_TYPE_SEND_PUSH', {}, {})];
    const journey = await createJourney(ctx, journeyBody(draft));
    assert.deepEqual(journey.points, draft);
  });

  it('reads a journey by uuid in any letter case', async () => {
    const { info } = await createJourney(ctx);
    const res = await ctx.request({ method: 'GET', url: `/api/v3/journeygateway/${info.uuid.toUpperCase()}` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().info.uuid, info.uuid);
  });

  it('answers 404 for an unknown uuid and for an id that is not a uuid', async () => {
    const unknown = await ctx.request({ method: 'GET', url: '/api/v3/journeygateway/00000000-0000-4000-8000-000000000000' });
    assert.equal(unknown.statusCode, 404);
    assert.deepEqual(unknown.json(), { code: 404, message: 'journey 00000000-0000-4000-8000-000000000000 not found' });
    const malformed = await ctx.request({ method: 'GET', url: '/api/v3/journeygateway/42' });
    assert.equal(malformed.statusCode, 404);
    assert.equal(malformed.json().message, 'journey not found: the id is not a journey uuid');
  });

  it('replaces title, params and points of a draft', async () => {
    const created = await createJourney(ctx);
    const replacement = {
      title: 'Renamed',
      params: { application_code: TEST_APP_CODE, allow_reenter: true },
      points: everyPointType(),
    };
    const res = await ctx.request({ method: 'PUT', url: `/api/v3/journeygateway/${created.info.uuid}`, payload: replacement });
    assert.equal(res.statusCode, 200, res.body);
    const replaced = res.json();
    assert.equal(replaced.info.uuid, created.info.uuid);
    assert.equal(replaced.info.status, 'STATUS_DRAFT');
    assert.equal(replaced.info.title, 'Renamed');
    assert.deepEqual(replaced.info.params, replacement.params);
    assert.deepEqual(replaced.points, replacement.points);
    assert.equal(replaced.info.created_at, created.info.created_at);
    assert.ok(replaced.info.updated_at >= created.info.updated_at);
    assert.deepEqual(await readJourney(ctx, created.info.uuid), replaced);
  });

  it('refuses to move a journey to another application', async () => {
    const created = await createJourney(ctx);
    const res = await ctx.request({
      method: 'PUT',
      url: `/api/v3/journeygateway/${created.info.uuid}`,
      payload: { ...journeyBody(), params: { application_code: 'OTHER-00002' } },
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().message, `params.application_code cannot change: this journey belongs to ${TEST_APP_CODE}`);
    assert.deepEqual(await readJourney(ctx, created.info.uuid), created);
  });

  it('refuses an application the token is not granted, the same way whether or not it exists', async () => {
    const before = await countJourneys(ctx);
    for (const code of ['OTHER-00002', 'NOAPP-00000']) {
      const res = await ctx.request({
        method: 'POST',
        url: '/api/v3/journeygateway',
        payload: { ...journeyBody(), params: { application_code: code } },
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().message, `params.application_code: ${code} is not an application this token is granted`);
    }
    assert.equal(await countJourneys(ctx), before);
  });

  it('hides a journey from a token not granted its application, as if it did not exist', async () => {
    const { info } = await createJourney(ctx);
    const url = `/api/v3/journeygateway/${info.uuid}`;
    const notFound = { code: 404, message: `journey ${info.uuid} not found` };

    const read = await ctx.request({ method: 'GET', url, headers: otherApp });
    assert.equal(read.statusCode, 404);
    assert.deepEqual(read.json(), notFound);

    const put = await ctx.request({ method: 'PUT', url, headers: otherApp, payload: journeyBody(minimalPoints(), 'Hijacked') });
    assert.equal(put.statusCode, 404);
    assert.deepEqual(put.json(), notFound);

    for (const action of ['start', 'pause', 'finish', 'draft', 'archive'] as const) {
      const res = await transition(ctx, action, info.uuid, otherApp);
      assert.equal(res.statusCode, 404, action);
      assert.deepEqual(res.json(), notFound);
    }

    const list = await ctx.request({ method: 'GET', url: '/api/journey', headers: otherApp });
    assert.deepEqual(list.json(), { _metadata: { page: 1, page_count: 0, total_count: 0 }, payload: { items: [] } });

    const unchanged = await readJourney(ctx, info.uuid);
    assert.equal(unchanged.info.title, 'Onboarding');
    assert.equal(unchanged.info.status, 'STATUS_DRAFT');
  });

  it('requires an Api token on every journey endpoint', async () => {
    const { info } = await createJourney(ctx);
    const calls = [
      { method: 'POST', url: '/api/v3/journeygateway', payload: journeyBody() },
      { method: 'GET', url: `/api/v3/journeygateway/${info.uuid}` },
      { method: 'PUT', url: `/api/v3/journeygateway/${info.uuid}`, payload: journeyBody() },
      { method: 'GET', url: '/api/journey' },
      { method: 'POST', url: '/api/v3/journeygateway/start', payload: { uuid: info.uuid } },
    ] as const;
    const before = await countJourneys(ctx);
    for (const call of calls) {
      for (const headers of [{ authorization: '' }, { authorization: 'Api wrong-token' }, { authorization: 'Token test-api-token' }]) {
        const res = await ctx.request({ ...call, headers });
        assert.equal(res.statusCode, 401, `${call.method} ${call.url} with ${headers.authorization}`);
      }
    }
    assert.equal(await countJourneys(ctx), before);
    assert.equal((await readJourney(ctx, info.uuid)).info.status, 'STATUS_DRAFT');
  });

  const badBodies: { problem: string; payload: unknown; message: RegExp }[] = [
    { problem: 'malformed JSON', payload: '{"title": "x", ', message: /JSON/i },
    { problem: 'a list instead of an object', payload: [journeyBody()], message: /^body must be object$/ },
    { problem: 'missing title', payload: { ...journeyBody(), title: undefined }, message: /^body must have required property 'title'$/ },
    { problem: 'title not a string', payload: { ...journeyBody(), title: 7 }, message: /^body\/title must be string$/ },
    { problem: 'empty title', payload: { ...journeyBody(), title: '' }, message: /^body\/title must NOT have fewer than 1 characters$/ },
    { problem: 'missing params', payload: { ...journeyBody(), params: undefined }, message: /^body must have required property 'params'$/ },
    {
      problem: 'malformed application code',
      payload: { ...journeyBody(), params: { application_code: 'test0-00001' } },
      message: /^body\/params\/application_code must match pattern/,
    },
    {
      problem: 'allow_reenter not a boolean',
      payload: { ...journeyBody(), params: { application_code: TEST_APP_CODE, allow_reenter: 'yes' } },
      message: /^body\/params\/allow_reenter must be boolean$/,
    },
    {
      problem: 'silent hours not HH:mm',
      payload: { ...journeyBody(), params: { application_code: TEST_APP_CODE, silent_hours: { from: '25:00', to: '08:00' } } },
      message: /^params\.silent_hours\.from: "25:00" is not a time of day/,
    },
    { problem: 'points not a list', payload: { ...journeyBody(), points: { api: {} } }, message: /^body\/points must be array$/ },
    { problem: 'missing points', payload: { ...journeyBody(), points: undefined }, message: /^body must have required property 'points'$/ },
    {
      problem: 'unknown point_type',
      payload: journeyBody([{ ...minimalPoints()[0]!, point_type: 'POINT_TYPE_TELEPORT' } as never]),
      message: new RegExp(
        `^body/points/0/point_type must be equal to one of the allowed values: ${POINT_TYPES.map((type) => `"${type}"`).join(', ')}$`,
      ),
    },
    {
      problem: 'point without uuid',
      payload: journeyBody([{ ...minimalPoints()[0]!, uuid: undefined } as never]),
      message: /^body\/points\/0 must have required property 'uuid'$/,
    },
    {
      problem: 'point_data not an object',
      payload: journeyBody([{ ...minimalPoints()[0]!, point_data: 'x' } as never]),
      message: /^body\/points\/0\/point_data must be object$/,
    },
    {
      problem: 'outputs not a list',
      payload: journeyBody([{ ...minimalPoints()[0]!, outputs: { default: 'exit' } } as never]),
      message: /^body\/points\/0\/outputs must be array$/,
    },
    {
      problem: 'output target not a string',
      payload: journeyBody([{ ...minimalPoints()[0]!, outputs: [{ key: 'default', next_point_uuid: 5 }] } as never]),
      message: /^body\/points\/0\/outputs\/0\/next_point_uuid must be string$/,
    },
  ];

  for (const { problem, payload, message } of badBodies) {
    it(`refuses a create with ${problem} and writes nothing`, async () => {
      const before = await countJourneys(ctx);
      const res = await ctx.request({
        method: 'POST',
        url: '/api/v3/journeygateway',
        headers: { 'content-type': 'application/json' },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.json().message, message);
      assert.equal(await countJourneys(ctx), before);
    });

    it(`refuses a replace with ${problem} and changes nothing`, async () => {
      const created = await createJourney(ctx);
      const res = await ctx.request({
        method: 'PUT',
        url: `/api/v3/journeygateway/${created.info.uuid}`,
        headers: { 'content-type': 'application/json' },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.json().message, message);
      assert.deepEqual(await readJourney(ctx, created.info.uuid), created);
    });
  }

  const badTransitionBodies: { problem: string; payload: string; status: number; message: RegExp }[] = [
    { problem: 'malformed JSON', payload: '{"uuid": ', status: 400, message: /JSON/i },
    { problem: 'no uuid', payload: '{}', status: 400, message: /^body must have required property 'uuid'$/ },
    { problem: 'uuid not a string', payload: '{"uuid": 5}', status: 400, message: /^body\/uuid must be string$/ },
    { problem: 'uuid not a uuid', payload: '{"uuid": "abc"}', status: 404, message: /^journey not found: the id is not a journey uuid$/ },
    {
      problem: 'an unknown uuid',
      payload: '{"uuid": "00000000-0000-4000-8000-000000000000"}',
      status: 404,
      message: /^journey 00000000-0000-4000-8000-000000000000 not found$/,
    },
  ];

  for (const { problem, payload, status, message } of badTransitionBodies) {
    it(`refuses a transition with ${problem}`, async () => {
      const created = await createJourney(ctx);
      const res = await ctx.request({
        method: 'POST',
        url: '/api/v3/journeygateway/archive',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      assert.equal(res.statusCode, status, res.body);
      assert.match(res.json().message, message);
      assert.deepEqual(await readJourney(ctx, created.info.uuid), created);
    });
  }
});

describeEachBackend('journey list API', (dialect) => {
  const JOURNEYS = 45;
  const PAGE_SIZE = 20;
  let ctx: TestContext;
  let pager: Record<string, string>;
  let titlesNewestFirst: string[];

  before(async () => {
    ctx = await startTestApp(dialect);
    pager = await otherTenant(ctx, 'PAGER-00001', 'pager-token');
    const body = (i: number) => ({ title: `journey ${i}`, params: { application_code: 'PAGER-00001' }, points: [] });
    for (let i = 1; i <= JOURNEYS; i++) await createJourney(ctx, body(i), pager);
    // A journey of another application, which the pager token must never see.
    await createJourney(ctx, journeyBody());
    titlesNewestFirst = Array.from({ length: JOURNEYS }, (_, i) => `journey ${JOURNEYS - i}`);
  });
  after(() => ctx.close());

  const list = (query: string, headers = pager) => ctx.request({ method: 'GET', url: `/api/journey${query}`, headers });

  it(`pages ${PAGE_SIZE} journeys at a time, newest first`, async () => {
    const pages = [];
    for (const page of [1, 2, 3]) {
      const res = await list(`?page=${page}`);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(body._metadata, { page, page_count: 3, total_count: JOURNEYS });
      pages.push(...body.payload.items);
    }
    assert.deepEqual(
      pages.map((item) => item.title),
      titlesNewestFirst,
    );
  });

  it('lists id, title, status and createdAt of each journey', async () => {
    const res = await list('?page=1');
    const [first] = res.json().payload.items;
    assert.deepEqual(Object.keys(first).sort(), ['createdAt', 'id', 'status', 'title']);
    const journey = await readJourney(ctx, first.id, pager);
    assert.deepEqual(first, {
      id: journey.info.uuid,
      title: journey.info.title,
      status: journey.info.status,
      createdAt: journey.info.created_at,
    });
  });

  it('shows the current status of each journey', async () => {
    const res = await list('?page=3');
    const oldest = res.json().payload.items.at(-1);
    const archived = await transition(ctx, 'archive', oldest.id, pager);
    assert.equal(archived.statusCode, 200, archived.body);
    const after = (await list('?page=3')).json().payload.items.at(-1);
    assert.deepEqual(after, { ...oldest, status: 'STATUS_ARCHIVED' });
  });

  it('defaults to page 1 and answers an empty page past the end', async () => {
    const first = (await list('')).json();
    assert.equal(first._metadata.page, 1);
    assert.equal(first.payload.items.length, PAGE_SIZE);
    const past = (await list('?page=4')).json();
    assert.deepEqual(past, { _metadata: { page: 4, page_count: 3, total_count: JOURNEYS }, payload: { items: [] } });
  });

  it('lists the journeys of every application the token is granted', async () => {
    const res = await list('', authorization('test-api-token'));
    assert.deepEqual(res.json()._metadata, { page: 1, page_count: 1, total_count: 1 });
    assert.equal(res.json().payload.items[0].title, 'Onboarding');
  });

  for (const page of ['0', '-1', 'abc', '1.5', '', '1e3', '0x10', '1000000000', ' 1']) {
    it(`refuses page=${JSON.stringify(page)} naming the parameter`, async () => {
      const res = await list(`?page=${encodeURIComponent(page)}`);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), {
        code: 400,
        message: `page must be a whole number from 1 to 999999999, got ${JSON.stringify(page)}`,
      });
    });
  }

  it('refuses a repeated page parameter', async () => {
    const res = await list('?page=1&page=2');
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().message, 'querystring/page must be string');
  });
});
