import { runStatements } from '../../sql/migration-statements.js';

const STATEMENTS = [
  `CREATE TABLE entry_stage (
     source INTEGER NOT NULL CHECK (source IN (0, 1)),
     source_id INTEGER NOT NULL,
     user_id TEXT NOT NULL,
     PRIMARY KEY (source, source_id, user_id)) WITHOUT ROWID`,
  `INSERT INTO entry_stage (source, source_id, user_id) SELECT 0, request_id, user_id FROM entry_audience`,
  `INSERT INTO entry_stage (source, source_id, user_id) SELECT 1, entry_id, user_id FROM segment_entry_audience`,
  `DROP TABLE entry_audience`,
  `DROP TABLE segment_entry_audience`,
  `ALTER TABLE segment_entries ADD COLUMN skipped_unknown INTEGER NOT NULL DEFAULT 0`,
];

/**
 * One stage for every staged entry (store/entry/): a Start-by-API request's
 * audience (source 0, `source_id` an entry_requests id) and a segment entry's
 * (source 1, a segment_entries id) are staged, entered and dropped by the
 * same statements. The source is a small integer because SQLite stores 0 and
 * 1 in the record header alone: a name would add its bytes to each of a
 * million staged users. The stages of entries in progress move over as they
 * are; segment_entries gains the `skipped_unknown` every stage's owner keeps
 * (always 0 for a segment, whose audience has no unknown ids).
 */
export const up = runStatements(STATEMENTS);
