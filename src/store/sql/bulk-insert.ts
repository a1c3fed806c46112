import type BetterSqlite3 from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Multi-row INSERTs for hot paths (the outbox, the delivery log), where
 * building a 1,000-row statement with Kysely costs as much as the database's
 * own work (~6–13 µs a row to compile). The rows are positional arrays in
 * `columns` order; `suffix` is appended (e.g. an ON CONFLICT clause).
 * Returns the number of rows inserted.
 */
export interface BulkInsert {
  readonly table: string;
  /** Column names and their Postgres array element types, e.g. `['run_id', 'bigint']`. */
  readonly columns: readonly (readonly [name: string, postgresType: string])[];
  readonly suffix?: string;
}

/** SQLite rows per prepared statement: 500 × a dozen columns stays far below the 32,766-parameter limit. */
const SQLITE_ROWS_PER_STATEMENT = 500;

/**
 * SQLite: prepared multi-row statements on the raw handle (one for full
 * chunks, one per distinct tail size, cached per handle). Callers run it
 * inside a transaction of the same connection: Kysely's SQLite driver holds
 * the one connection for the whole transaction, so these statements are part of it.
 */
export class SqliteBulkInserter {
  private readonly statements = new Map<number, BetterSqlite3.Statement>();

  constructor(
    private readonly raw: BetterSqlite3.Database,
    private readonly spec: BulkInsert,
  ) {}

  insert(rows: readonly (readonly unknown[])[]): number {
    let inserted = 0;
    for (let from = 0; from < rows.length; from += SQLITE_ROWS_PER_STATEMENT) {
      const chunk = rows.slice(from, from + SQLITE_ROWS_PER_STATEMENT);
      inserted += this.statementFor(chunk.length).run(chunk.flat()).changes;
    }
    return inserted;
  }

  private statementFor(rowCount: number): BetterSqlite3.Statement {
    let statement = this.statements.get(rowCount);
    if (!statement) {
      const row = `(${this.spec.columns.map(() => '?').join(', ')})`;
      const values = Array.from({ length: rowCount }, () => row).join(', ');
      const names = this.spec.columns.map(([name]) => name).join(', ');
      statement = this.raw.prepare(`INSERT INTO ${this.spec.table} (${names}) VALUES ${values} ${this.spec.suffix ?? ''}`);
      this.statements.set(rowCount, statement);
    }
    return statement;
  }
}

/**
 * Postgres: one statement whatever the row count, `INSERT … SELECT * FROM
 * unnest($1::type[], …)`, with one array parameter per column — a fixed
 * number of parameters, so no chunking and nothing to re-plan.
 */
export async function postgresBulkInsert(
  executor: Kysely<Database>,
  spec: BulkInsert,
  rows: readonly (readonly unknown[])[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const arrays = spec.columns.map(([, type], index) => sql`${rows.map((row) => row[index])}::${sql.raw(type)}[]`);
  const names = sql.raw(spec.columns.map(([name]) => name).join(', '));
  const result =
    await sql`INSERT INTO ${sql.raw(spec.table)} (${names}) SELECT * FROM unnest(${sql.join(arrays)}) ${sql.raw(spec.suffix ?? '')}`.execute(
      executor,
    );
  return Number(result.numAffectedRows ?? 0);
}
