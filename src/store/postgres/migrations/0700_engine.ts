import { sql, type Kysely } from 'kysely';

/**
 * The engine's columns on runs (docs/engine.md): `waiting_point` marks a run
 * whose wait at a holding point (WAIT, WAIT_EVENT, a send inside silent
 * hours) has begun, so that the point's execution when `due_at` comes is
 * told apart from its execution on arrival; `exited_at` is when the run
 * stopped being active.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE runs ADD COLUMN waiting_point TEXT`.execute(db);
  await sql`ALTER TABLE runs ADD COLUMN exited_at BIGINT`.execute(db);
}
