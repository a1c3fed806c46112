import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import { Store } from '../../src/store/store.js';
import { activeRunsSummary, insertRunningJourney, migrateBefore, START_BY_API_TO_EXIT, userId } from './entry-stage-support.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';

const STAGED = 50;

describeEachBackend('migration 1200 stores booleans as 0/1', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let journeyId: number;
  let inProgressId: number;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await migrateBefore(store, dialect, '1200');

    await bootstrapIfEmpty(store, 'FLAGS-01200', 'flags-token');
    const application = await store.applications.findByCode('FLAGS-01200');
    const applicationId = application!.id;
    const now = Date.now();
    journeyId = await insertRunningJourney(store, application!, START_BY_API_TO_EXIT);
    const [yes, no] = dialect === 'postgres' ? [sql`true`, sql`false`] : [sql`1`, sql`0`];

    // A request in progress: its audience staged, its worker dead, its lease expired.
    const inProgress = await sql<{ id: number }>`
      INSERT INTO entry_requests (uuid, journey_id, application_id, point_uuid, selector_kind, selector, attributes,
                                  status, created_at, audience_resolved, selected, entered, skipped_already,
                                  lease_owner, lease_expires_at, attempts)
      VALUES (${randomUUID()}, ${journeyId}, ${applicationId}, 'start', 'filter', 'A("FLAGS-01200")', '{}',
              'processing', ${now}, ${yes}, ${STAGED}, 0, 0, 'dead-worker', ${now - 1}, 1)
      RETURNING id`.execute(store.backend.db);
    inProgressId = Number(inProgress.rows[0]!.id);
    const users = Array.from({ length: STAGED }, (_, i) => userId(i + 1));
    if (dialect === 'postgres') {
      await sql`
        INSERT INTO entry_stage_chunks (source, source_id, first_seq, user_ids)
        VALUES (0, ${inProgressId}, 1, ${users}::text[])`.execute(store.backend.db);
    } else {
      await store.backend.db
        .insertInto('entry_stage')
        .values(users.map((user) => ({ source: 0, source_id: inProgressId, user_id: user })))
        .execute();
    }
    await sql`
      INSERT INTO entry_requests (uuid, journey_id, application_id, point_uuid, selector_kind, selector, attributes,
                                  status, created_at, audience_resolved)
      VALUES (${randomUUID()}, ${journeyId}, ${applicationId}, 'start', 'filter', 'A("FLAGS-01200")', '{}',
              'failed', ${now}, ${no})`.execute(store.backend.db);

    await sql`
      INSERT INTO segment_entries (journey_id, application_id, point_uuid, filter, due_at, status, audience_resolved,
                                   created_at)
      VALUES (${journeyId}, ${applicationId}, 'seg-resolved', 'A("FLAGS-01200")', ${now}, 'done', ${yes}, ${now}),
             (${journeyId}, ${applicationId}, 'seg-unresolved', 'A("FLAGS-01200")', ${now}, 'cancelled', ${no}, ${now})`.execute(
      store.backend.db,
    );
    await sql`
      INSERT INTO journey_event_triggers (application_id, event_name, journey_id, point_uuid, kind, point_order,
                                          allow_reenter, point)
      VALUES (${applicationId}, 'again', ${journeyId}, 'start', 'entry', 0, ${yes}, '{}'),
             (${applicationId}, 'once', ${journeyId}, 'start', 'entry', 0, ${no}, '{}')`.execute(store.backend.db);

    await store.migrate();
  });

  after(async () => {
    await store.close();
    await database.drop();
  });

  it('reads every true back as 1 and every false as 0', async () => {
    const requests = await store.backend.db.selectFrom('entry_requests').select('audience_resolved').orderBy('id').execute();
    const segments = await store.backend.db.selectFrom('segment_entries').select('audience_resolved').orderBy('id').execute();
    const triggers = await store.backend.db.selectFrom('journey_event_triggers').select('allow_reenter').orderBy('event_name').execute();
    assert.deepEqual(
      [
        requests.map((row) => row.audience_resolved),
        segments.map((row) => row.audience_resolved),
        triggers.map((row) => row.allow_reenter),
      ],
      [
        [1, 0],
        [1, 0],
        [1, 0],
      ],
    );
  });

  it('lets the next worker enter the staged request in progress from its stage', async () => {
    // No user has a device: a worker that took the audience for unresolved would stage none and enter none.
    const worker = new EntryWorker(store, { logger: createLogger('silent'), batchSize: 20 });
    assert.equal(await worker.drain(), 1);
    const request = await store.backend.db
      .selectFrom('entry_requests')
      .select(['status', 'entered', 'audience_resolved'])
      .where('id', '=', inProgressId)
      .executeTakeFirstOrThrow();
    assert.deepEqual([request.status, Number(request.entered), request.audience_resolved], ['done', STAGED, 1]);
    assert.deepEqual(await activeRunsSummary(store, journeyId), [STAGED, STAGED, userId(1), userId(STAGED)]);
  });
});
