import { runStatements } from '../../sql/migration-statements.js';

const STATEMENTS = [
  `CREATE TABLE entry_stage_chunks (
     source SMALLINT NOT NULL CHECK (source IN (0, 1)),
     source_id BIGINT NOT NULL,
     first_seq BIGINT NOT NULL,
     user_ids TEXT[] NOT NULL,
     PRIMARY KEY (source, source_id, first_seq))`,
  `INSERT INTO entry_stage_chunks (source, source_id, first_seq, user_ids)
   SELECT 0, request_id, first_seq, user_ids FROM entry_audience_chunks`,
  `INSERT INTO entry_stage_chunks (source, source_id, first_seq, user_ids)
   SELECT 1, entry_id, min(seq), array_agg(user_id ORDER BY seq)
   FROM (SELECT a.entry_id, a.user_id, e.entered + e.skipped_already AS taken,
                e.entered + e.skipped_already + row_number() OVER (PARTITION BY a.entry_id ORDER BY a.user_id) AS seq
         FROM segment_entry_audience a JOIN segment_entries e ON e.id = a.entry_id) AS numbered
   GROUP BY entry_id, (seq - taken - 1) / 10000`,
  `DROP TABLE entry_audience_chunks`,
  `DROP TABLE segment_entry_audience`,
  `ALTER TABLE segment_entries ADD COLUMN skipped_unknown INTEGER NOT NULL DEFAULT 0`,
];

/**
 * One stage for every staged entry (store/entry/): a Start-by-API request's
 * audience (source 0, `source_id` an entry_requests id) and a segment entry's
 * (source 1, a segment_entries id), in the chunks migration 1000 introduced
 * for requests, entered and dropped by the same statements. A request's
 * chunks move over as they are. A segment entry's stage held only the users
 * not taken yet (batches deleted theirs): they are numbered on from those
 * taken (`entered + skipped_already`), which is where its next batch reads.
 * segment_entries gains the `skipped_unknown` every stage's owner keeps
 * (always 0 for a segment, whose audience has no unknown ids).
 */
export const up = runStatements(STATEMENTS);
