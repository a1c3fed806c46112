import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { createJourney, requestStatus } from '../http/start-external-support.js';

/** The token cache and the grouped acceptance: what each must never get wrong. */
describeEachBackend('start by API: token cache and grouped acceptance', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  it('does not remember an unknown token: once created it authenticates', async () => {
    const journey = await createJourney(ctx);
    const headers = { authorization: 'Api token-created-later' };
    const url = `/api/journey/${journey}/start/external`;
    const payload = { payload: { users: ['u1'] } };
    const before = await ctx.request({ method: 'POST', url, headers, payload });
    assert.equal(before.statusCode, 401, before.body);

    const application = await ctx.store.applications.findByCode(TEST_APP_CODE);
    assert.ok(application);
    await ctx.store.applications.createToken('token-created-later', 'api', 'later', [application.id]);
    const created = await ctx.request({ method: 'POST', url, headers, payload });
    assert.equal(created.statusCode, 200, created.body);
    // Remembered now, and still scoped to its grant and kind.
    const again = await ctx.request({ method: 'POST', url, headers, payload });
    assert.equal(again.statusCode, 400, again.body);
    const asDevice = await ctx.request({ method: 'POST', url, headers: { authorization: 'Token token-created-later' }, payload });
    assert.equal(asDevice.statusCode, 401, asDevice.body);
  });

  it('a failing acceptance in a group leaves the others accepted', async () => {
    const journeys = [await createJourney(ctx), await createJourney(ctx)];
    const ids = await Promise.all(journeys.map(async (uuid) => (await ctx.store.journeys.findByUuid(uuid))!.id));
    const application = (await ctx.store.applications.findByCode(TEST_APP_CODE))!;
    const input = (journeyId: number) => ({
      journeyId,
      applicationId: application.id,
      pointUuid: 'api-entry',
      selector: { kind: 'users' as const, ids: ['u1'] },
      attributes: {},
    });
    // In one turn of the event loop, so on SQLite they share one transaction; the middle one names no journey.
    const outcomes = await Promise.allSettled([
      ctx.store.entry.accept(input(ids[0]!)),
      ctx.store.entry.accept(input(-1)),
      ctx.store.entry.accept(input(ids[1]!)),
    ]);
    assert.equal(outcomes[1]?.status, 'rejected');
    for (const [i, index] of [0, 2].entries()) {
      const outcome = outcomes[index];
      assert.ok(outcome?.status === 'fulfilled' && outcome.value.accepted, JSON.stringify(outcome));
      const status = await requestStatus(ctx, journeys[i]!, outcome.value.requestUuid);
      assert.equal(status.status, 'queued');
    }
  });
});
