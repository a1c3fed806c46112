import { runStatements } from '../../sql/migration-statements.js';

/** The default goes while the type changes: a boolean default does not cast to smallint. */
function toSmallint(table: string, column: string, defaultValue?: 0 | 1): string {
  const type = `ALTER COLUMN ${column} TYPE smallint USING CASE WHEN ${column} THEN 1 ELSE 0 END`;
  if (defaultValue === undefined) return `ALTER TABLE ${table} ${type}`;
  return `ALTER TABLE ${table} ALTER COLUMN ${column} DROP DEFAULT, ${type}, ALTER COLUMN ${column} SET DEFAULT ${defaultValue}`;
}

const STATEMENTS = [
  toSmallint('entry_requests', 'audience_resolved', 0),
  toSmallint('segment_entries', 'audience_resolved', 0),
  toSmallint('journey_event_triggers', 'allow_reenter'),
];

/**
 * Booleans are stored 0/1 on both backends, as SQLite always stored them, so
 * a row has one type whichever backend it comes from and the store converts
 * at one place (store/sql/flag.ts). NOT NULL stays; the defaults stay false,
 * now 0.
 */
export const up = runStatements(STATEMENTS);
