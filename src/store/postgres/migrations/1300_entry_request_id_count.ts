import { runStatements } from '../../sql/migration-statements.js';

const STATEMENTS = [
  `ALTER TABLE entry_requests ADD COLUMN id_count integer NOT NULL DEFAULT 0`,
  // json, unlike jsonb, keeps the text as it is: a NUL or lone-surrogate escape an earlier version accepted does not fail it.
  `UPDATE entry_requests SET id_count = json_array_length(selector::json) WHERE selector_kind <> 'filter'`,
];

/**
 * How many ids a users/hwids request names, written at acceptance, so that
 * the claim reads no request's ids: it cast every claimed selector to jsonb,
 * and one request holding an id jsonb refuses failed every claim
 * (docs/start-by-api.md, "A request the worker cannot process").
 */
export const up = runStatements(STATEMENTS);
