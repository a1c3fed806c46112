import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import { Store } from '../../src/store/store.js';
import { activeRunsSummary, insertRunningJourney, migrateBefore, START_BY_API_TO_EXIT } from './entry-stage-support.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../support/backends.js';

const STAGED = 25_000;
/** As the entry worker found them when it stopped: 4,000 entered, 1,000 skipped as already in the journey. */
const TAKEN = 5_000;

describePostgres('migration 1000 chunks the stage of a request in progress', () => {
  let database: TestDatabase;
  let store: Store;
  let requestId: number;
  let journeyId: number;

  before(async () => {
    database = await createTestDatabase('postgres');
    store = Store.open(database.url);
    await migrateBefore(store, 'postgres', '1000');

    await bootstrapIfEmpty(store, 'STAGE-00001', 'stage-token');
    const application = await store.applications.findByCode('STAGE-00001');
    const now = Date.now();
    journeyId = await insertRunningJourney(store, application!, START_BY_API_TO_EXIT);
    // The worker died mid-request: its lease has expired, the audience is staged under 0900's numbering.
    const request = await sql<{ id: number }>`
      INSERT INTO entry_requests (uuid, journey_id, application_id, point_uuid, selector_kind, selector, attributes,
                                  status, created_at, audience_resolved, selected, entered, skipped_already,
                                  lease_owner, lease_expires_at, attempts)
      VALUES (${randomUUID()}, ${journeyId}, ${application!.id}, 'start', 'filter', 'A("STAGE-00001")', '{}',
              'processing', ${now}, true, ${STAGED}, ${TAKEN - 1_000}, 1000, 'dead-worker', ${now - 1}, 1)
      RETURNING id`.execute(store.backend.db);
    requestId = Number(request.rows[0]!.id);
    await sql`
      INSERT INTO entry_audience (request_id, seq, user_id)
      SELECT ${requestId}, i, 'user-' || lpad(i::text, 6, '0') FROM generate_series(1, ${STAGED}) AS i`.execute(store.backend.db);
    // The users already taken have runs (the active-run check would skip them anyway).
    await sql`
      INSERT INTO runs (journey_id, application_id, user_id, point_uuid, state, due_at, attributes, entry_request_id,
                        entered_at, updated_at)
      SELECT ${journeyId}, ${application!.id}, 'user-' || lpad(i::text, 6, '0'), 'exit', 'exited', ${now}, '{}',
             ${requestId}, ${now}, ${now}
      FROM generate_series(1, ${TAKEN}) AS i`.execute(store.backend.db);

    await store.migrate();
  });

  after(async () => {
    await store.close();
    await database.drop();
  });

  it('keeps each user at its number, in chunks of at most 10,000', async () => {
    const chunks = await store.backend.db
      .selectFrom('entry_stage_chunks')
      .select(['first_seq', sql<number>`cardinality(user_ids)`.as('size'), sql<string>`user_ids[1]`.as('first')])
      .where('source', '=', 0)
      .where('source_id', '=', requestId)
      .orderBy('first_seq')
      .execute();
    assert.deepEqual(
      chunks.map((c) => [Number(c.first_seq), Number(c.size), c.first]),
      [
        [1, 10_000, 'user-000001'],
        [10_001, 10_000, 'user-010001'],
        [20_001, 5_000, 'user-020001'],
      ],
    );
  });

  it('lets the next worker enter the users after those taken, once each, across chunk boundaries', async () => {
    const worker = new EntryWorker(store, { logger: createLogger('silent'), batchSize: 7_000 });
    assert.equal(await worker.drain(), 1);
    const request = await store.backend.db
      .selectFrom('entry_requests')
      .select(['status', 'entered', 'skipped_already'])
      .where('id', '=', requestId)
      .executeTakeFirstOrThrow();
    assert.deepEqual([request.status, Number(request.entered), Number(request.skipped_already)], ['done', STAGED - 1_000, 1_000]);
    assert.deepEqual(await activeRunsSummary(store, journeyId), [STAGED - TAKEN, STAGED - TAKEN, 'user-005001', 'user-025000']);
    const left = await store.backend.db.selectFrom('entry_stage_chunks').selectAll().execute();
    assert.deepEqual(left, []);
  });
});
