import { sql } from 'kysely';
import type { Store } from '../../src/store/store.js';

/** The journey's active runs as [runs, distinct users, first user id, last user id]. */
export async function activeRunsSummary(store: Store, journeyId: number): Promise<[number, number, string, string]> {
  const { rows } = await sql<{ runs: number; users: number; first: string; last: string }>`
    SELECT count(*) AS runs, count(DISTINCT user_id) AS users, min(user_id) AS first, max(user_id) AS last
    FROM runs WHERE journey_id = ${journeyId} AND state = 'active'`.execute(store.backend.db);
  const active = rows[0]!;
  return [Number(active.runs), Number(active.users), active.first, active.last];
}
