import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { createJourney, requestStatus, stageTable, startExternal } from '../http/start-external-support.js';

/** More users than one stage chunk on Postgres (10,000) holds, twice over. */
const USERS = 25_000;

describeEachBackend('entry worker: an audience of several stage chunks', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
    const application = await ctx.store.applications.findByCode(TEST_APP_CODE);
    const series =
      dialect === 'sqlite'
        ? sql`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${USERS}) SELECT i FROM n`
        : sql`SELECT i FROM generate_series(1, ${USERS}::int) AS n(i)`;
    await sql`
      INSERT INTO devices (application_id, hwid, user_id, device_type, created_at, updated_at)
      SELECT ${application!.id}, 'hw-' || i, 'user-' || i, 3, 0, 0 FROM (${series}) AS s`.execute(ctx.store.backend.db);
  });
  after(() => ctx.close());

  it('enters every user of a filter once, in batches that cross the chunks, and leaves no stage behind', { timeout: 120_000 }, async () => {
    const journey = await createJourney(ctx);
    const res = await startExternal(ctx, journey, { payload: { filter: `A("${TEST_APP_CODE}")` } });
    assert.equal(res.statusCode, 200, res.body);
    const { request_uuid } = res.json<{ request_uuid: string }>();

    const worker = new EntryWorker(ctx.store, { logger: createLogger('silent'), batchSize: 7_000 });
    assert.equal(await worker.drain(), 1);
    const status = await requestStatus(ctx, journey, request_uuid);
    assert.deepEqual([status.status, status.selected, status.entered], ['done', USERS, USERS]);
    const runs = await sql<{ runs: number; users: number }>`
      SELECT count(*) AS runs, count(DISTINCT user_id) AS users FROM runs`.execute(ctx.store.backend.db);
    assert.deepEqual([Number(runs.rows[0]!.runs), Number(runs.rows[0]!.users)], [USERS, USERS]);
    const staged = await ctx.store.backend.db.selectFrom(stageTable(ctx.store)).selectAll().execute();
    assert.deepEqual(staged, []);
  });
});
