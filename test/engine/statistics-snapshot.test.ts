import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Scheduler } from '../../src/engine/scheduler.js';
import { createLogger } from '../../src/logger.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, type TestContext } from '../support/app.js';
import { point, runningJourney, seedRuns, seedUsers } from './scheduler-fixtures.js';

interface Statistics {
  totals: { entered: number; in_journey: number; exited: number };
  points: { uuid: string; entered: number; in_point: number; passed: number }[];
}

describeEachBackend('statistics while batches commit', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  it('every answer adds up: runs at the points, runs through each point, runs exited', async () => {
    const users = 20_000;
    await seedUsers(ctx.store, 'snap-', users);
    const journey = await runningJourney(ctx.store, [
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'push' }),
      point('push', 'SEND_PUSH', { send_push: { title: 'Hi', body: '{{ user_id }}' } }, { default: 'exit' }),
      point('exit', 'EXIT', {}),
    ]);
    await seedRuns(ctx.store, journey.id, 'api', 'snap-', users);
    // Small batches: many commits while the statistics are read; a 50 ms poll only bounds a missed wake-up.
    const scheduler = new Scheduler(ctx.store, { logger: createLogger('silent'), batchSize: 100, pollIntervalMs: 50 });
    await scheduler.start();
    const inconsistent: string[] = [];
    let answers = 0;
    try {
      for (let last: Statistics | undefined; last?.totals.exited !== users; answers++) {
        const res = await ctx.request({ method: 'GET', url: `/api/journey/${journey.journey.info.uuid}/statistics/external` });
        assert.equal(res.statusCode, 200, res.body);
        last = res.json<{ payload: Statistics }>().payload;
        const byUuid = new Map(last.points.map((p) => [p.uuid, p]));
        const push = byUuid.get('push');
        const inPoints = last.points.reduce((sum, p) => sum + p.in_point, 0);
        if (
          inPoints !== last.totals.in_journey ||
          byUuid.get('exit')?.entered !== last.totals.exited ||
          push?.entered !== (push?.passed ?? 0) + (push?.in_point ?? 0)
        ) {
          inconsistent.push(JSON.stringify(last));
        }
      }
    } finally {
      await scheduler.stop();
    }
    assert.ok(answers > 1, 'the statistics were read while runs moved');
    assert.deepEqual(inconsistent.slice(0, 3), []);
  });
});
