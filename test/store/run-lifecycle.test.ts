import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, type TestContext } from '../support/app.js';
import { point, runCounts, runningJourney, seedRuns, seedUsers } from '../engine/scheduler-fixtures.js';

describeEachBackend("a journey's transitions end its runs", (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  async function startedWithRunsAt(prefix: string) {
    await seedUsers(ctx.store, `${prefix}api-`, 2);
    await seedUsers(ctx.store, `${prefix}gone-`, 3);
    const journey = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    await seedRuns(ctx.store, journey.id, 'api', `${prefix}api-`, 2);
    // As if 'gone' had been removed from the journey while it was paused.
    await seedRuns(ctx.store, journey.id, 'gone', `${prefix}gone-`, 3);
    return journey;
  }

  it('on start or resume, exits only the runs at points the journey no longer has', async () => {
    const running = await startedWithRunsAt('resume-');
    const paused = await ctx.store.journeys.transition(running, 'STATUS_PAUSED');
    assert.ok(paused);
    assert.ok(await ctx.store.journeys.transition(paused, 'STATUS_RUNNING'));
    assert.deepEqual(Object.fromEntries(await runCounts(ctx.store, running.id)), { 'active:api': 2, 'exited:gone': 3 });
  });

  it('on finish, exits every active run where it is', async () => {
    const running = await startedWithRunsAt('finish-');
    assert.ok(await ctx.store.journeys.transition(running, 'STATUS_FINISHED'));
    assert.deepEqual(Object.fromEntries(await runCounts(ctx.store, running.id)), { 'exited:api': 2, 'exited:gone': 3 });
  });
});
