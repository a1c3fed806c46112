import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { addToPointCounters } from '../../src/store/statistics/index.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, type TestContext } from '../support/app.js';
import { point, runningJourney, seedRuns, seedUsers } from '../engine/scheduler-fixtures.js';

describeEachBackend('point counters', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  async function countersOf(journeyId: number) {
    const rows = await ctx.store.backend.db
      .selectFrom('journey_point_counters')
      .select(['point_uuid', 'entered', 'passed', 'sent', 'failed'])
      .where('journey_id', '=', journeyId)
      .orderBy('point_uuid')
      .execute();
    return rows.map((r) => [r.point_uuid, Number(r.entered), Number(r.passed), Number(r.sent), Number(r.failed)]);
  }

  it('sums the deltas of each point and adds them to the counters it already has', async () => {
    const journeyId = 900_001;
    await addToPointCounters(ctx.store.backend.db, [{ journeyId, pointUuid: 'a', entered: 5, passed: 2 }]);
    await addToPointCounters(ctx.store.backend.db, [
      { journeyId, pointUuid: 'a', entered: 1, sent: 3 },
      { journeyId, pointUuid: 'a', passed: 1, failed: 2 },
      { journeyId, pointUuid: 'b', failed: 1 },
      { journeyId, pointUuid: 'c', entered: 0, passed: 0 },
    ]);
    assert.deepEqual(await countersOf(journeyId), [
      ['a', 6, 3, 3, 2],
      ['b', 0, 0, 0, 1],
    ]);
  });

  it("adds a batch's failures to its point's counters beside what entered and passed", async () => {
    await seedUsers(ctx.store, 'counted-', 3);
    const journey = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    await seedRuns(ctx.store, journey.id, 'api', 'counted-', 3);
    const outcome = await ctx.store.runs.executeBatch(journey, 'api', { now: Date.now(), limit: 10 }, async (runs) => ({
      moves: runs.map((run) => ({ kind: 'exit' as const, runId: run.id, at: 'exit' })),
      counts: [
        { pointUuid: 'api', entered: 0, passed: runs.length, failed: 2 },
        { pointUuid: 'exit', entered: runs.length, passed: 0, failed: 0 },
      ],
      messages: [],
    }));
    assert.equal(outcome.kind, 'executed');
    assert.deepEqual(await countersOf(journey.id), [
      ['api', 3, 3, 0, 2],
      ['exit', 3, 0, 0, 0],
    ]);
  });
});
