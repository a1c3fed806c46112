import { sql, type Kysely } from 'kysely';

/**
 * `revision` counts the writes to a journey. A lifecycle transition is a
 * compare-and-set on (status, revision), so `start` can only move the journey
 * whose points it validated: an edit in between makes the update miss.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE journeys ADD COLUMN revision INTEGER NOT NULL DEFAULT 0`.execute(db);
}
