import type BetterSqlite3 from 'better-sqlite3';

/**
 * A prepared read that skips Kysely's connection mutex when nothing can
 * interleave with it. The mutex keeps a query out of a transaction that is
 * open on the one shared connection; when none is open (and no statement is
 * streamed: journeyd streams none), a synchronous read sees exactly what a
 * read through the mutex would, committed data, for a fraction of the cost
 * (on the Start-by-API path, docs/start-by-api.md). While a transaction is
 * open, `get` answers undefined and the caller queries through Kysely, which
 * waits for it to end.
 */
export class CommittedRead<Row> {
  private statement: BetterSqlite3.Statement | undefined;

  constructor(
    private readonly raw: BetterSqlite3.Database,
    private readonly sql: string,
  ) {}

  /** `{ row }` (the row, or undefined when there is none) outside a transaction; undefined inside one. */
  get(...parameters: readonly unknown[]): { readonly row: Row | undefined } | undefined {
    if (this.raw.inTransaction) return undefined;
    this.statement ??= this.raw.prepare(this.sql);
    return { row: this.statement.get(...parameters) as Row | undefined };
  }
}
