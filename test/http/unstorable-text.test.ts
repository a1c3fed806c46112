import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Database } from '../../src/store/schema.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';
import { createJourney, drive, journeyBody } from '../support/journey-api.js';
import { minimalPoints, point } from '../support/journey-fixtures.js';

const APP = TEST_APP_CODE;
const NUL = 'a\u0000b';
const LONE_SURROGATE = 'a\ud800b';
const PROBLEMS = [
  { label: 'a NUL', text: NUL, problem: 'contains a NUL character' },
  { label: 'a lone surrogate', text: LONE_SURROGATE, problem: 'contains a lone UTF-16 surrogate' },
] as const;

/** One string field class of one route: the request with `bad` in that field, and where the 400 must say it is. */
interface Field {
  readonly route: string;
  readonly at: string;
  readonly send: (bad: string) => { method: 'POST' | 'PUT'; url: string; payload: object };
}

const device = (method: string, request: Record<string, unknown>) => ({
  method: 'POST' as const,
  url: `/json/1.3/${method}`,
  payload: { request: { application: APP, ...request } },
});

function journeyFields(draftUuid: () => string): Field[] {
  const create = (route: string, body: (bad: string) => object): Field['send'] =>
    route.startsWith('PUT')
      ? (bad) => ({ method: 'PUT', url: `/api/v3/journeygateway/${draftUuid()}`, payload: body(bad) })
      : (bad) => ({ method: 'POST', url: '/api/v3/journeygateway', payload: body(bad) });
  const withPush = (text: string) => [
    point('api', 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: 'push' }),
    point('push', 'POINT_TYPE_SEND_PUSH', { send_push: { title: 't', body: text } }, { default: 'exit' }),
    point('exit', 'POINT_TYPE_EXIT', {}),
  ];
  const fields: Field[] = [];
  for (const route of ['POST /api/v3/journeygateway', 'PUT /api/v3/journeygateway/:uuid']) {
    fields.push(
      { route, at: 'body.title', send: create(route, (bad) => journeyBody(minimalPoints(), bad)) },
      {
        route,
        at: 'body.params.application_code',
        send: create(route, (bad) => ({ ...journeyBody(), params: { application_code: bad } })),
      },
      {
        route,
        at: 'body.params.silent_hours.from',
        send: create(route, (bad) => ({ ...journeyBody(), params: { application_code: APP, silent_hours: { from: bad, to: '08:00' } } })),
      },
      {
        route,
        at: 'body.params has a key',
        send: create(route, (bad) => ({ ...journeyBody(), params: { application_code: APP, [bad]: 1 } })),
      },
      {
        route,
        at: 'body.points[0].uuid',
        send: create(route, (bad) => journeyBody([point(bad, 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: 'exit' })])),
      },
      {
        route,
        at: 'body.points[1].title',
        send: create(route, (bad) => journeyBody([...withPush('x').slice(0, 1), { ...withPush('x')[1]!, title: bad }])),
      },
      { route, at: 'body.points[1].point_data.send_push.body', send: create(route, (bad) => journeyBody(withPush(bad))) },
      {
        route,
        at: 'body.points[0].outputs[0].next_point_uuid',
        send: create(route, (bad) => journeyBody([point('api', 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: bad })])),
      },
    );
  }
  for (const action of ['start', 'pause', 'finish', 'draft', 'archive']) {
    fields.push({
      route: `POST /api/v3/journeygateway/${action}`,
      at: 'body.uuid',
      send: (bad) => ({ method: 'POST', url: `/api/v3/journeygateway/${action}`, payload: { uuid: bad } }),
    });
  }
  return fields;
}

function entryFields(runningUuid: () => string): Field[] {
  const start =
    (payload: (bad: string) => object): Field['send'] =>
    (bad) => ({
      method: 'POST',
      url: `/api/journey/${runningUuid()}/start/external`,
      payload: payload(bad),
    });
  const route = 'POST /api/journey/:id/start/external';
  const drop = 'POST /api/journey/drop-users/external';
  return [
    { route, at: 'body.payload.users[1]', send: start((bad) => ({ payload: { users: ['ok', bad] } })) },
    { route, at: 'body.payload.hwids[0]', send: start((bad) => ({ payload: { hwids: [bad] } })) },
    { route, at: 'body.users[0]', send: start((bad) => ({ users: [bad] })) },
    { route, at: 'body.payload.filter', send: start((bad) => ({ payload: { filter: `T("City", eq, "${bad}")` } })) },
    {
      route,
      at: 'body.payload.attribute_values has a key',
      send: start((bad) => ({ payload: { users: ['u'], attribute_values: { [bad]: 'v' } } })),
    },
    { route, at: 'body.attribute_values.code', send: start((bad) => ({ users: ['u'], attribute_values: { code: bad } })) },
    {
      route: drop,
      at: 'body.user_ids[0]',
      send: (bad) => ({ method: 'POST', url: '/api/journey/drop-users/external', payload: { user_ids: [bad], all_journeys: true } }),
    },
    {
      route: drop,
      at: 'body.journey_uuids[0]',
      send: (bad) => ({ method: 'POST', url: '/api/journey/drop-users/external', payload: { user_ids: ['u'], journey_uuids: [bad] } }),
    },
  ];
}

const DEVICE_FIELDS: Field[] = [
  ['registerDevice', 'body.request.hwid', (bad: string) => ({ hwid: bad, device_type: 1 })],
  ['registerDevice', 'body.request.push_token', (bad: string) => ({ hwid: 'new', device_type: 1, push_token: bad })],
  ['registerDevice', 'body.request.language', (bad: string) => ({ hwid: 'new', device_type: 1, language: bad })],
  ['registerDevice', 'body.request.userId', (bad: string) => ({ hwid: 'new', device_type: 1, userId: bad })],
  ['registerDevice', 'body.request.tags has a key', (bad: string) => ({ hwid: 'new', device_type: 1, tags: { [bad]: 'v' } })],
  ['registerDevice', 'body.request.tags.City', (bad: string) => ({ hwid: 'new', device_type: 1, tags: { City: bad } })],
  ['registerDevice', 'body.request.tags.Interests[1]', (bad: string) => ({ hwid: 'new', device_type: 1, tags: { Interests: ['a', bad] } })],
  ['unregisterDevice', 'body.request.hwid', (bad: string) => ({ hwid: bad })],
  ['registerUser', 'body.request.hwid', (bad: string) => ({ hwid: bad, userId: 'u', device_type: 1 })],
  ['registerUser', 'body.request.userId', (bad: string) => ({ hwid: 'known', userId: bad })],
  ['setTags', 'body.request.hwid', (bad: string) => ({ hwid: bad, tags: { City: 'x' } })],
  ['setTags', 'body.request.userId', (bad: string) => ({ userId: bad, tags: { City: 'x' } })],
  ['setTags', 'body.request.tags has a key', (bad: string) => ({ hwid: 'known', tags: { [bad]: 'x' } })],
  ['setTags', 'body.request.tags.City', (bad: string) => ({ hwid: 'known', tags: { City: bad } })],
  [
    'setTags',
    'body.request.tags.Interests.value[0]',
    (bad: string) => ({ hwid: 'known', tags: { Interests: { operation: 'append', value: [bad] } } }),
  ],
  ['getTags', 'body.request.hwid', (bad: string) => ({ hwid: bad })],
  ['addTag', 'body.request.tag.name', (bad: string) => ({ tag: { name: bad, type: 2 } })],
  ['addTag', 'body.request.name', (bad: string) => ({ name: bad, type: 2 })],
  ['listTags', 'body.request.application', (bad: string) => ({ application: bad })],
  ['postEvent', 'body.request.hwid', (bad: string) => ({ hwid: bad, event: 'e' })],
  ['postEvent', 'body.request.userId', (bad: string) => ({ userId: bad, event: 'e' })],
  ['postEvent', 'body.request.event', (bad: string) => ({ hwid: 'known', event: bad })],
  ['postEvent', 'body.request.attributes has a key', (bad: string) => ({ hwid: 'known', event: 'e', attributes: { [bad]: 1 } })],
  ['postEvent', 'body.request.attributes.plan', (bad: string) => ({ hwid: 'known', event: 'e', attributes: { plan: bad } })],
  ['postEvent', 'body.request.attributes.items[0]', (bad: string) => ({ hwid: 'known', event: 'e', attributes: { items: [bad] } })],
  ['createFilter', 'body.request.name', (bad: string) => ({ name: bad, filter_expression: 'A("TEST0-00001")' })],
  ['createFilter', 'body.request.filter_expression', (bad: string) => ({ name: 'f', filter_expression: `T("City", eq, "${bad}")` })],
  ['listFilters', 'body.request.application', (bad: string) => ({ application: bad })],
].map(([method, at, request]) => ({
  route: `POST /json/1.3/${method as string}`,
  at: at as string,
  send: (bad: string) => device(method as string, (request as (bad: string) => Record<string, unknown>)(bad)),
}));

/** Every table a request can write, each as a sorted list of its rows. */
async function snapshot(ctx: TestContext) {
  const tables: (keyof Database)[] = [
    'devices',
    'tag_definitions',
    'device_tags',
    'events',
    'filters',
    'journeys',
    'entry_requests',
    'runs',
  ];
  const rows: Record<string, string[]> = {};
  for (const table of tables) {
    const all = await ctx.store.backend.db.selectFrom(table).selectAll().execute();
    rows[table] = all.map((row) => JSON.stringify(row)).sort();
  }
  return rows;
}

describeEachBackend('text no store keeps as sent is refused on every route', (dialect) => {
  let ctx: TestContext;
  let draftUuid = '';
  let runningUuid = '';

  before(async () => {
    ctx = await startTestApp(dialect);
    const seeded = await ctx.request(
      device('registerDevice', { hwid: 'known', device_type: 1, userId: 'known-user', tags: { City: 'Paris', Interests: ['a'] } }),
    );
    assert.equal(seeded.statusCode, 200, seeded.body);
    draftUuid = (await createJourney(ctx)).info.uuid;
    const api = point(
      'api',
      'POINT_TYPE_START_BY_API',
      { start_by_api: { attributes: [{ name: 'code', default: '' }] } },
      { default: 'exit' },
    );
    runningUuid = (await createJourney(ctx, journeyBody([api, point('exit', 'POINT_TYPE_EXIT', {})]))).info.uuid;
    await drive(ctx, runningUuid, ['start']);
  });
  after(() => ctx.close());

  const fields = [...journeyFields(() => draftUuid), ...entryFields(() => runningUuid), ...DEVICE_FIELDS];
  for (const field of fields) {
    for (const { label, text, problem } of PROBLEMS) {
      it(`${field.route}: ${label} in ${field.at} → 400 naming it, nothing stored`, async () => {
        const before = await snapshot(ctx);
        const res = await ctx.request(field.send(text));
        assert.equal(res.statusCode, 400, res.body);
        const { code, message } = res.json<{ code: number; message: string }>();
        assert.equal(code, field.route.includes('/json/1.3/') ? 210 : 400);
        assert.ok(message.startsWith(field.at), `${message} should start with ${field.at}`);
        assert.ok(message.endsWith(problem), `${message} should end with ${problem}`);
        assert.deepEqual(await snapshot(ctx), before);
      });
    }
  }

  const urls = [
    ['GET /api/v3/journeygateway/:uuid', () => `/api/v3/journeygateway/${encodeURIComponent(NUL)}`, 'params.uuid'],
    ['PUT /api/v3/journeygateway/:uuid', () => `/api/v3/journeygateway/${encodeURIComponent(NUL)}`, 'params.uuid'],
    ['POST /api/journey/:id/start/external', () => `/api/journey/${encodeURIComponent(NUL)}/start/external`, 'params.id'],
    ['GET /api/journey', () => `/api/journey?page=${encodeURIComponent(NUL)}`, 'query.page'],
    ['GET /api/journey/:id/messages', () => `/api/journey/${runningUuid}/messages?user_id=${encodeURIComponent(NUL)}`, 'query.user_id'],
    ['POST /json/1.3/:method', () => `/json/1.3/${encodeURIComponent(NUL)}`, 'params.method'],
  ] as const;
  for (const [route, url, at] of urls) {
    it(`${route}: a NUL in ${at} → 400 naming it`, async () => {
      const method = route.split(' ')[0] as 'GET' | 'POST' | 'PUT';
      const payload = method === 'GET' ? undefined : method === 'PUT' ? journeyBody() : { request: { application: APP }, users: ['u'] };
      const res = await ctx.request({ method, url: url(), payload });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().message, `${at} contains a NUL character`);
    });
  }

  it('registerUser with a NUL user id is refused, as registerDevice refuses it', async () => {
    const res = await ctx.request(device('registerUser', { hwid: 'fresh', userId: NUL, device_type: 1 }));
    assert.equal(res.statusCode, 400, res.body);
    const devices = await ctx.store.backend.db.selectFrom('devices').select('hwid').where('hwid', '=', 'fresh').execute();
    assert.deepEqual(devices, []);
  });

  it('two hwids differing only in a lone surrogate are both refused, not merged into one device', async () => {
    for (const hwid of ['twin\ud800', 'twin\udc00']) {
      const res = await ctx.request(device('registerDevice', { hwid, device_type: 1 }));
      assert.equal(res.statusCode, 400, res.body);
    }
    const devices = await ctx.store.backend.db.selectFrom('devices').select('hwid').where('hwid', 'like', 'twin%').execute();
    assert.deepEqual(devices, []);
  });

  it('addTag with a lone-surrogate name is a 400 the first time and the second', async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await ctx.request(device('addTag', { tag: { name: 'Tag\udfff', type: 2 } }));
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().message, 'body.request.tag.name contains a lone UTF-16 surrogate');
    }
  });

  it('a paired surrogate (an emoji) is ordinary text', async () => {
    const res = await ctx.request(device('registerDevice', { hwid: 'emoji-😀', device_type: 1, tags: { City: '😀' } }));
    assert.equal(res.statusCode, 200, res.body);
  });
});
