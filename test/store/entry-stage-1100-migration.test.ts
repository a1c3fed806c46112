import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import { Store } from '../../src/store/store.js';
import { activeRunsSummary, insertRunningJourney, migrateBefore, userId } from './entry-stage-support.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';

const STAGED = 25_000;
/** As the segment worker left it: 4,000 entered, 1,000 skipped as already in the journey, their stage rows deleted. */
const TAKEN = 5_000;

describeEachBackend('migration 1100 moves a segment entry in progress onto the one stage', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let entryId: number;
  let journeyId: number;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await migrateBefore(store, dialect, '1100');

    await bootstrapIfEmpty(store, 'STAGE-01100', 'stage-token');
    const application = await store.applications.findByCode('STAGE-01100');
    const now = Date.now();
    const points = [
      {
        uuid: 'seg',
        title: 'seg',
        point_type: 'POINT_TYPE_START_BY_SEGMENT',
        point_data: { start_by_segment: { filter: 'A("STAGE-01100")' } },
        outputs: [{ key: 'default', next_point_uuid: 'exit' }],
      },
      { uuid: 'exit', title: 'exit', point_type: 'POINT_TYPE_EXIT', point_data: {}, outputs: [] },
    ];
    journeyId = await insertRunningJourney(store, application!, points);
    // The worker died mid-entry: its lease has expired; the stage holds the users it had not taken.
    const resolved = dialect === 'postgres' ? sql`true` : sql`1`;
    const entry = await sql<{ id: number }>`
      INSERT INTO segment_entries (journey_id, application_id, point_uuid, filter, due_at, status, audience_resolved,
                                   selected, entered, skipped_already, attempts, lease_owner, lease_expires_at,
                                   created_at)
      VALUES (${journeyId}, ${application!.id}, 'seg', 'A("STAGE-01100")', ${now}, 'processing', ${resolved},
              ${STAGED}, ${TAKEN - 1_000}, 1000, 1, 'dead-worker', ${now - 1}, ${now})
      RETURNING id`.execute(store.backend.db);
    entryId = Number(entry.rows[0]!.id);
    const series =
      dialect === 'sqlite'
        ? sql`WITH RECURSIVE n(i) AS (SELECT ${sql.lit(TAKEN + 1)} UNION ALL SELECT i + 1 FROM n WHERE i < ${sql.lit(STAGED)}) SELECT i FROM n`
        : sql`SELECT i FROM generate_series(${TAKEN + 1}::int, ${STAGED}::int) AS n(i)`;
    const pad = dialect === 'sqlite' ? sql`substr('000000' || i, -6)` : sql`lpad(i::text, 6, '0')`;
    await sql`
      INSERT INTO segment_entry_audience (entry_id, user_id)
      SELECT ${entryId}, 'user-' || ${pad} FROM (${series}) AS s`.execute(store.backend.db);

    await store.migrate();
  });

  after(async () => {
    await store.close();
    await database.drop();
  });

  it('keeps every user not taken yet, numbered on from those taken', async () => {
    if (dialect === 'postgres') {
      const chunks = await store.backend.db
        .selectFrom('entry_stage_chunks')
        .select(['first_seq', sql<number>`cardinality(user_ids)`.as('size'), sql<string>`user_ids[1]`.as('first')])
        .where('source', '=', 1)
        .where('source_id', '=', entryId)
        .orderBy('first_seq')
        .execute();
      assert.deepEqual(
        chunks.map((c) => [Number(c.first_seq), Number(c.size), c.first]),
        [
          [TAKEN + 1, 10_000, userId(TAKEN + 1)],
          [TAKEN + 10_001, 10_000, userId(TAKEN + 10_001)],
        ],
      );
    } else {
      const staged = await store.backend.db
        .selectFrom('entry_stage')
        .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('user_id').as('first')])
        .where('source', '=', 1)
        .where('source_id', '=', entryId)
        .executeTakeFirstOrThrow();
      assert.deepEqual([Number(staged.n), staged.first], [STAGED - TAKEN, userId(TAKEN + 1)]);
    }
  });

  it('lets the next worker enter the users not taken, once each', async () => {
    const worker = new EntryWorker(store, { claims: 'segments', logger: createLogger('silent'), batchSize: 7_000 });
    assert.equal(await worker.drain(), 1);
    const entry = await store.backend.db
      .selectFrom('segment_entries')
      .select(['status', 'entered', 'skipped_already'])
      .where('id', '=', entryId)
      .executeTakeFirstOrThrow();
    assert.deepEqual([entry.status, Number(entry.entered), Number(entry.skipped_already)], ['done', STAGED - 1_000, 1_000]);
    assert.deepEqual(await activeRunsSummary(store, journeyId), [STAGED - TAKEN, STAGED - TAKEN, userId(TAKEN + 1), userId(STAGED)]);
    const left = await store.backend.db
      .selectFrom(dialect === 'postgres' ? 'entry_stage_chunks' : 'entry_stage')
      .selectAll()
      .execute();
    assert.deepEqual(left, []);
  });
});
