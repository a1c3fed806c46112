import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Migrator, sql, type Migration } from 'kysely';
import { migrations as postgresMigrations } from '../../src/store/postgres/migrations/index.js';
import { migrations as sqliteMigrations } from '../../src/store/sqlite/migrations/index.js';
import type { Store } from '../../src/store/store.js';
import type { Dialect } from '../../src/store/backend.js';

/** The journey's active runs as [runs, distinct users, first user id, last user id]. */
export async function activeRunsSummary(store: Store, journeyId: number): Promise<[number, number, string, string]> {
  const { rows } = await sql<{ runs: number; users: number; first: string; last: string }>`
    SELECT count(*) AS runs, count(DISTINCT user_id) AS users, min(user_id) AS first, max(user_id) AS last
    FROM runs WHERE journey_id = ${journeyId} AND state = 'active'`.execute(store.backend.db);
  const active = rows[0]!;
  return [Number(active.runs), Number(active.users), active.first, active.last];
}

/** The nth user id of a staged audience; ids sort as their numbers do. */
export function userId(i: number): string {
  return `user-${String(i).padStart(6, '0')}`;
}

/** Applies the dialect's migrations named before `name`, to leave rows as an older release wrote them. */
export async function migrateBefore(store: Store, dialect: Dialect, name: string): Promise<void> {
  const all: Record<string, Migration> = dialect === 'postgres' ? postgresMigrations : sqliteMigrations;
  const earlier = Object.fromEntries(Object.entries(all).filter(([migration]) => migration < name));
  const schema =
    dialect === 'postgres'
      ? (await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(store.backend.db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({
    db: store.backend.db,
    provider: { getMigrations: async () => earlier },
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  assert.equal((await migrator.migrateToLatest()).error, undefined);
}

/** A journey's points: a Start-by-API entry point named 'start', then its exit. */
export const START_BY_API_TO_EXIT = [
  {
    uuid: 'start',
    title: 'start',
    point_type: 'POINT_TYPE_START_BY_API',
    point_data: { start_by_api: {} },
    outputs: [{ key: 'default', next_point_uuid: 'exit' }],
  },
  { uuid: 'exit', title: 'exit', point_type: 'POINT_TYPE_EXIT', point_data: {}, outputs: [] },
];

/** Inserts a running journey of `points` in the application, as any release's schema holds it; answers its id. */
export async function insertRunningJourney(
  store: Store,
  application: { id: number; code: string },
  points: readonly object[],
): Promise<number> {
  const now = Date.now();
  const journey = await sql<{ id: number }>`
    INSERT INTO journeys (uuid, application_id, title, status, params, points, created_at, updated_at)
    VALUES (${randomUUID()}, ${application.id}, 'staged', 'STATUS_RUNNING',
            ${JSON.stringify({ application_code: application.code })}, ${JSON.stringify(points)}, ${now}, ${now})
    RETURNING id`.execute(store.backend.db);
  return Number(journey.rows[0]!.id);
}
