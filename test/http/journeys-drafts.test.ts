import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { JOURNEY_STATUSES, type Journey, type JourneyStatus } from '../../src/domain/journey.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, type TestContext } from '../support/app.js';
import { createJourney, journeyBody, journeyInStatus, otherTenant, readJourney } from '../support/journey-api.js';

/** Deleting and duplicating journeys, and listing them by status (docs/journeys.md). */
describeEachBackend('journey drafts: delete, duplicate, list by status', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  const remove = (uuid: string, headers: Record<string, string> = {}) =>
    ctx.request({ method: 'DELETE', url: `/api/v3/journeygateway/${uuid}`, headers });
  const duplicate = (uuid: string, headers: Record<string, string> = {}) =>
    ctx.request({ method: 'POST', url: `/api/v3/journeygateway/${uuid}/duplicate`, headers });

  for (const status of ['STATUS_DRAFT', 'STATUS_ARCHIVED'] as const) {
    it(`deletes a journey in ${status}: it is gone from reads and the list`, async () => {
      const uuid = await journeyInStatus(ctx, status);
      const res = await remove(uuid);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { uuid, deleted: true });
      assert.equal((await ctx.request({ method: 'GET', url: `/api/v3/journeygateway/${uuid}` })).statusCode, 404);
      const listed = await ctx.request({ method: 'GET', url: '/api/journey?page=1' });
      assert.ok(!listed.json<{ payload: { items: { id: string }[] } }>().payload.items.some((item) => item.id === uuid));
      assert.equal((await remove(uuid)).statusCode, 404);
    });
  }

  for (const status of ['STATUS_RUNNING', 'STATUS_PAUSED', 'STATUS_FINISHED'] as const) {
    it(`refuses to delete a journey in ${status}, naming the statuses that can be, and keeps it`, async () => {
      const uuid = await journeyInStatus(ctx, status);
      const res = await remove(uuid);
      assert.equal(res.statusCode, 400);
      assert.equal(
        res.json<{ message: string }>().message,
        `cannot delete a journey in ${status}: only a journey in STATUS_DRAFT or STATUS_ARCHIVED can be deleted (finish and archive it first)`,
      );
      assert.equal((await readJourney(ctx, uuid)).info.status, status);
    });
  }

  it("answers another tenant's delete and duplicate with the 404 of an unknown journey, and changes nothing", async () => {
    const uuid = await journeyInStatus(ctx, 'STATUS_DRAFT');
    const stranger = await otherTenant(ctx, 'OTHER-00002', 'other-drafts-token');
    for (const res of [await remove(uuid, stranger), await duplicate(uuid, stranger)]) {
      assert.equal(res.statusCode, 404);
      assert.equal(res.json<{ message: string }>().message, `journey ${uuid} not found`);
    }
    assert.equal((await readJourney(ctx, uuid)).info.status, 'STATUS_DRAFT');
  });

  it('duplicates a running journey into a new draft with the same params and points, leaving the original as it was', async () => {
    const uuid = await journeyInStatus(ctx, 'STATUS_RUNNING');
    const original = await readJourney(ctx, uuid);
    const res = await duplicate(uuid);
    assert.equal(res.statusCode, 200, res.body);
    const copy = res.json<Journey>();
    assert.notEqual(copy.info.uuid, uuid);
    assert.equal(copy.info.status, 'STATUS_DRAFT');
    assert.equal(copy.info.title, `${original.info.title} (copy)`);
    assert.deepEqual(copy.info.params, original.info.params);
    assert.deepEqual(copy.points, original.points);
    assert.deepEqual(await readJourney(ctx, copy.info.uuid), copy);
    assert.deepEqual(await readJourney(ctx, uuid), original);
  });

  it('keeps the copy of a 255-character title within 255 characters', async () => {
    const { info } = await createJourney(ctx, journeyBody(undefined, 'é'.repeat(255)));
    const copy = (await duplicate(info.uuid)).json<Journey>();
    assert.equal(copy.info.title, `${'é'.repeat(248)} (copy)`);
    assert.equal([...copy.info.title].length, 255);
  });

  it('lists only the journeys of the status asked for, counted alone', async () => {
    const archived = await journeyInStatus(ctx, 'STATUS_ARCHIVED');
    const res = await ctx.request({ method: 'GET', url: '/api/journey?status=STATUS_ARCHIVED' });
    assert.equal(res.statusCode, 200, res.body);
    const { _metadata, payload } = res.json<{
      _metadata: { total_count: number };
      payload: { items: { id: string; status: JourneyStatus }[] };
    }>();
    assert.ok(payload.items.length > 0 && payload.items.every((item) => item.status === 'STATUS_ARCHIVED'));
    assert.ok(payload.items.some((item) => item.id === archived));
    const archivedRows = await ctx.store.backend.db
      .selectFrom('journeys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'STATUS_ARCHIVED')
      .executeTakeFirstOrThrow();
    assert.equal(_metadata.total_count, Number(archivedRows.n));
  });

  it('refuses an unknown status, listing the five', async () => {
    const res = await ctx.request({ method: 'GET', url: '/api/journey?status=STATUS_LIVE' });
    assert.equal(res.statusCode, 400);
    assert.equal(
      res.json<{ message: string }>().message,
      `querystring/status must be equal to one of the allowed values: ${JOURNEY_STATUSES.map((status) => `"${status}"`).join(', ')}`,
    );
  });
});
