import { sql, type Kysely } from 'kysely';

/** A migration's `up` that runs these SQL statements in order (in the migration's transaction). */
export function runStatements(statements: readonly string[]): (db: Kysely<unknown>) => Promise<void> {
  return async (db) => {
    for (const statement of statements) await sql.raw(statement).execute(db);
  };
}
