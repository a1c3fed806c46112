import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { PointDraft } from '../../src/domain/journey.js';
import type { Store } from '../../src/store/store.js';
import { TEST_APP_CODE } from '../support/app.js';

/**
 * Seeding for scheduler tests that need thousands of runs: devices and runs
 * are generated in SQL (what the entry worker would have inserted), the
 * journey goes through the store's own create and start transition.
 */

export async function applicationId(store: Store): Promise<number> {
  const application = await store.applications.findByCode(TEST_APP_CODE);
  if (!application) throw new Error('the test application is missing');
  return application.id;
}

/** A running journey with these points; returns its id and uuid. */
export async function runningJourney(store: Store, points: PointDraft[], params: Record<string, unknown> = {}, uuid = randomUUID()) {
  const app = await applicationId(store);
  const created = await store.journeys.create(uuid, app, {
    title: 'scheduler test',
    params: { application_code: TEST_APP_CODE, ...params },
    points,
  });
  const running = await store.journeys.transition(created, 'STATUS_RUNNING');
  if (!running) throw new Error('could not start the journey');
  return running;
}

/** Users `<prefix>0` … `<prefix>{count-1}`, one iOS device each with a push token. */
export async function seedUsers(store: Store, prefix: string, count: number): Promise<void> {
  const app = await applicationId(store);
  const now = Date.now();
  const series =
    store.dialect === 'sqlite'
      ? sql`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${count - 1}) SELECT i FROM n`
      : sql`SELECT generate_series(0, ${count - 1}) AS i`;
  await sql`
    INSERT INTO devices (application_id, hwid, user_id, device_type, push_token, created_at, updated_at)
    SELECT ${app}, ${prefix} || i || '-hw', ${prefix} || i, 1, 'tok-' || ${prefix} || i, ${now}, ${now}
    FROM (${series}) AS s`.execute(store.backend.db);
}

/** One active run per seeded user at `pointUuid`, due at `dueAt`, counted as entered there. */
export async function seedRuns(
  store: Store,
  journeyId: number,
  pointUuid: string,
  prefix: string,
  count: number,
  dueAt = Date.now(),
): Promise<void> {
  const app = await applicationId(store);
  const now = Date.now();
  await sql`
    INSERT INTO runs (journey_id, application_id, user_id, point_uuid, state, due_at, attributes, entered_at, updated_at)
    SELECT ${journeyId}, ${app}, d.user_id, ${pointUuid}, 'active', ${dueAt}, '{}', ${now}, ${now}
    FROM devices d WHERE d.application_id = ${app} AND d.user_id LIKE ${`${prefix}%`}`.execute(store.backend.db);
  await sql`
    INSERT INTO journey_point_counters (journey_id, point_uuid, entered, passed, sent, failed)
    VALUES (${journeyId}, ${pointUuid}, ${count}, 0, 0, 0)
    ON CONFLICT (journey_id, point_uuid) DO UPDATE SET entered = journey_point_counters.entered + ${count}`.execute(store.backend.db);
}

/** Runs of the journey by state and point. */
export async function runCounts(store: Store, journeyId: number): Promise<Map<string, number>> {
  const rows = await store.backend.db
    .selectFrom('runs')
    .select(['state', 'point_uuid', (eb) => eb.fn.countAll<number>().as('n')])
    .where('journey_id', '=', journeyId)
    .groupBy(['state', 'point_uuid'])
    .execute();
  return new Map(rows.map((r) => [`${r.state}:${r.point_uuid}`, Number(r.n)]));
}

export function point(uuid: string, type: string, data: Record<string, unknown>, outputs: Record<string, string> = {}): PointDraft {
  return {
    uuid,
    title: uuid,
    point_type: `POINT_TYPE_${type}` as PointDraft['point_type'],
    point_data: data,
    outputs: Object.entries(outputs).map(([key, next_point_uuid]) => ({ key, next_point_uuid })),
  };
}
