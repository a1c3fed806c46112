import { runStatements } from '../../sql/migration-statements.js';

const STATEMENTS = [
  `ALTER TABLE entry_requests ADD COLUMN id_count INTEGER NOT NULL DEFAULT 0`,
  `UPDATE entry_requests SET id_count = json_array_length(selector) WHERE selector_kind <> 'filter'`,
];

/**
 * How many ids a users/hwids request names, written at acceptance, so that
 * the claim reads no request's ids, as on Postgres (where reading them in
 * the claim let one request fail every claim; docs/start-by-api.md).
 */
export const up = runStatements(STATEMENTS);
