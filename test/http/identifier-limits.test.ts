import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';
import { countJourneys, createJourney, drive, journeyBody, transition } from '../support/journey-api.js';
import { minimalPoints, point } from '../support/journey-fixtures.js';

const APP = TEST_APP_CODE;
/** Over the ~2.7 kB a Postgres B-tree entry may hold. */
const OVER_AN_INDEX_KEY = 'u'.repeat(3_000);

describeEachBackend('identifiers that key an index are at most 255 characters', (dialect) => {
  let ctx: TestContext;
  let running = '';
  before(async () => {
    ctx = await startTestApp(dialect);
    running = (await createJourney(ctx)).info.uuid;
    await drive(ctx, running, ['start']);
  });
  after(() => ctx.close());
  it('a 3 kB point uuid is refused on create and on PUT, and nothing is stored', async () => {
    const journeys = await countJourneys(ctx);
    const long = [
      point(OVER_AN_INDEX_KEY, 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: 'exit' }),
      point('exit', 'POINT_TYPE_EXIT', {}),
    ];
    const created = await ctx.request({ method: 'POST', url: '/api/v3/journeygateway', payload: journeyBody(long) });
    assert.equal(created.statusCode, 400, created.body);
    assert.equal(created.json().message, 'body/points/0/uuid must NOT have more than 255 characters');
    const draft = (await createJourney(ctx)).info.uuid;
    const put = await ctx.request({ method: 'PUT', url: `/api/v3/journeygateway/${draft}`, payload: journeyBody(long) });
    assert.equal(put.statusCode, 400, put.body);
    const wired = [point('api', 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: OVER_AN_INDEX_KEY })];
    const output = await ctx.request({ method: 'PUT', url: `/api/v3/journeygateway/${draft}`, payload: journeyBody(wired) });
    assert.equal(output.statusCode, 400, output.body);
    assert.equal(output.json().message, 'body/points/0/outputs/0/next_point_uuid must NOT have more than 255 characters');
    assert.equal(await countJourneys(ctx), journeys + 1);
  });

  it('start refuses a draft saved before the point uuid limit existed', async () => {
    const application = await ctx.store.applications.findByCode(APP);
    const points = minimalPoints().map((p) =>
      p.uuid === 'exit' ? { ...p, uuid: OVER_AN_INDEX_KEY } : { ...p, outputs: [{ key: 'default', next_point_uuid: OVER_AN_INDEX_KEY }] },
    );
    const stored = await ctx.store.journeys.create(randomUUID(), application!.id, {
      title: 'old',
      params: { application_code: APP },
      points,
    });
    const res = await transition(ctx, 'start', stored.journey.info.uuid);
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json().message, /^point uuid "u{32}…" is longer than 255 characters$/);
  });

  it('start refuses an event name over 255 characters, in an EVENT entry and in a WAIT_EVENT branch', async () => {
    const name = 'e'.repeat(3_000);
    const entry = [
      point('evt', 'POINT_TYPE_EVENT', { message_bus: { event_name: name } }, { default: 'exit' }),
      point('exit', 'POINT_TYPE_EXIT', {}),
    ];
    const waiting = [
      point('api', 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: 'wait' }),
      point(
        'wait',
        'POINT_TYPE_WAIT_EVENT',
        { wait_event: { branches: [{ key: 'got', event_name: name }], timeout_seconds: 60 } },
        { got: 'exit', default: 'exit' },
      ),
      point('exit', 'POINT_TYPE_EXIT', {}),
    ];
    for (const points of [entry, waiting]) {
      const { info } = await createJourney(ctx, journeyBody(points));
      const res = await transition(ctx, 'start', info.uuid);
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.json().message, /event_name must be at most 255 characters/);
    }
  });

  it('start refuses a SET_TAGS tag name that no device could carry', async () => {
    const points = [
      point('api', 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: 'tags' }),
      point('tags', 'POINT_TYPE_SET_TAGS', { set_tags: { tags: { [OVER_AN_INDEX_KEY]: 'x' } } }, { default: 'exit' }),
      point('exit', 'POINT_TYPE_EXIT', {}),
    ];
    const { info } = await createJourney(ctx, journeyBody(points));
    const res = await transition(ctx, 'start', info.uuid);
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json().message, /set_tags\.tags: tag name "u{32}…" is longer than 128 characters/);
  });

  it('Start by API refuses a user id or hwid over 255 characters, and nothing is queued', async () => {
    for (const kind of ['users', 'hwids']) {
      const res = await ctx.request({
        method: 'POST',
        url: `/api/journey/${running}/start/external`,
        payload: { payload: { [kind]: ['ok', OVER_AN_INDEX_KEY] } },
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().message, `payload.${kind}[1] must be at most 255 characters`);
    }
    const queued = await ctx.store.backend.db.selectFrom('entry_requests').select('id').execute();
    assert.deepEqual(queued, []);
  });
});
