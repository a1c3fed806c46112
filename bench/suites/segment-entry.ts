/**
 * Entry by segment (docs/entry-and-events.md): a journey whose START_BY_SEGMENT
 * filter matches 500,000 users (of 600,000 devices, each its own user) is
 * started; measured from the committed start to the segment entry `done`,
 * with the default worker (10,000 users per batch). Each dialect runs in its
 * own child process, so each reports its own peak RSS.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import type { Dialect } from '../../src/store/backend.js';
import { Store } from '../../src/store/store.js';
import { createDatabase } from '../fixtures.js';
import { peakRssMb, report } from '../report.js';

const APP_CODE = 'BENCH-00002';
const MATCHING = 500_000;
/** One device in six is not in the segment. */
const DECOYS = MATCHING / 5;

/** 600,000 devices generated in SQL, five in six tagged Plan=gold; a draft journey entering the gold segment. */
async function seed(store: Store) {
  const app = await store.applications.create(APP_CODE, 'bench');
  const db = store.backend.db;
  const now = Date.now();
  const total = MATCHING + DECOYS;
  const series =
    store.dialect === 'sqlite'
      ? sql`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${total}) SELECT i FROM n`
      : sql`SELECT i FROM generate_series(1, ${total}::int) AS n(i)`;
  await sql`
    INSERT INTO devices (application_id, hwid, user_id, device_type, created_at, updated_at)
    SELECT ${app.id}, 'hw-' || i, 'user-' || i, 3, ${now}, ${now} FROM (${series}) AS s`.execute(db);
  const { id: tagId } = await db
    .insertInto('tag_definitions')
    .values({ application_id: app.id, name: 'Plan', type: 2, created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  await sql`
    INSERT INTO device_tags (device_id, tag_id, text_value)
    SELECT d.id, ${tagId}, CASE WHEN d.id % 6 = 0 THEN 'free' ELSE 'gold' END
    FROM devices d WHERE d.application_id = ${app.id}`.execute(db);
  if (store.dialect === 'postgres') await sql`ANALYZE`.execute(db);
  return store.journeys.create(randomUUID(), app.id, {
    title: 'segment bench',
    params: { application_code: APP_CODE },
    points: [
      {
        uuid: 'seg',
        point_type: 'POINT_TYPE_START_BY_SEGMENT',
        point_data: { start_by_segment: { filter: 'T("Plan", eq, "gold")' } },
        outputs: [{ key: 'default', next_point_uuid: 'exit' }],
      },
      { uuid: 'exit', point_type: 'POINT_TYPE_EXIT', point_data: { exit: {} }, outputs: [] },
    ],
  });
}

async function benchmark(dialect: Dialect): Promise<void> {
  const database = await createDatabase(dialect);
  const store = Store.open(database.url);
  try {
    await store.migrate();
    const draft = await seed(store);
    const started = Date.now();
    if (!(await store.journeys.transition(draft, 'STATUS_RUNNING'))) throw new Error('could not start the journey');
    const worker = new EntryWorker(store, { claims: 'segments', logger: createLogger('warn') });
    if ((await worker.drain()) !== 1) throw new Error('the segment entry was not processed');
    const seconds = (Date.now() - started) / 1000;
    const row = await store.backend.db
      .selectFrom('segment_entries')
      .select(['status', 'entered'])
      .where('journey_id', '=', draft.id)
      .executeTakeFirstOrThrow();
    if (row.status !== 'done' || Number(row.entered) !== MATCHING) {
      throw new Error(`segment entry ${row.status} with ${row.entered} entered, expected done with ${MATCHING}`);
    }
    report(`segment of ${MATCHING} users (${dialect})`, { seconds, 'users/s': MATCHING / seconds, peak_rss_mb: peakRssMb() });
  } finally {
    await store.close();
    await database.drop();
  }
}

const dialect = process.argv[2] as Dialect | undefined;
if (dialect === undefined) {
  let failed = 0;
  for (const each of ['sqlite', 'postgres']) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), each], { stdio: 'inherit' });
    if (child.status !== 0) failed++;
  }
  process.exit(failed > 0 ? 1 : 0);
} else {
  await benchmark(dialect);
}
