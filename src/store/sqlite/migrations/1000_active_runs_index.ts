import { runStatements } from '../../sql/migration-statements.js';

const STATEMENTS = [
  `CREATE INDEX runs_due ON runs (journey_id, point_uuid, due_at) WHERE state = 'active'`,
  `CREATE INDEX runs_by_journey ON runs (journey_id)`,
  `DROP INDEX runs_by_journey_state_point`,
];

/**
 * The scheduler's index holds active runs only: (journey, point, due time)
 * where `state = 'active'`, instead of every run under (journey, state,
 * point, due time). An exit now only removes the run's entry (it used to
 * move it to the `exited` range, which grew by every run that ever ended),
 * and the index stays the size of what is in flight. Counting a journey's
 * runs (statistics totals) takes the plain journey index, which no move
 * touches on SQLite (a move never changes `journey_id`). docs/engine.md.
 */
export const up = runStatements(STATEMENTS);
