import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, it } from 'node:test';
import type { EntryTarget, StoredJourney } from '../../src/store/journeys/index.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';

describeEachBackend('journey reads see committed data only', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  it('findByUuid and findEntryTarget during a transaction that changes the journey answer what is committed', async () => {
    const application = await ctx.store.applications.findByCode(TEST_APP_CODE);
    assert.ok(application);
    const uuid = randomUUID();
    const now = Date.now();
    await ctx.store.backend.db
      .insertInto('journeys')
      .values({
        uuid,
        application_id: application.id,
        title: 'committed',
        status: 'STATUS_RUNNING',
        params: '{}',
        points: '[]',
        created_at: now,
        updated_at: now,
      })
      .execute();

    let readDuring: Promise<StoredJourney | undefined> | undefined;
    let targetDuring: Promise<EntryTarget | undefined> | undefined;
    await assert.rejects(
      ctx.store.backend.db.transaction().execute(async (trx) => {
        await trx.updateTable('journeys').set({ title: 'uncommitted', status: 'STATUS_PAUSED' }).where('uuid', '=', uuid).execute();
        readDuring = ctx.store.journeys.findByUuid(uuid);
        targetDuring = ctx.store.journeys.findEntryTarget(uuid);
        // Time for the reads to run, were they to run inside this open transaction (a read takes a millisecond
        // or two; 50 ms is ample).
        await Promise.race([Promise.all([readDuring, targetDuring]), sleep(50)]);
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    const read = await readDuring;
    assert.deepEqual([read?.journey.info.title, read?.journey.info.status], ['committed', 'STATUS_RUNNING']);
    assert.equal((await targetDuring)?.status, 'STATUS_RUNNING');
  });
});
