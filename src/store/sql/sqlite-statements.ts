import type BetterSqlite3 from 'better-sqlite3';

/**
 * The raw better-sqlite3 statements of a hot path, each text prepared once.
 * The texts are the code's own (a few per store), so the cache needs no bound.
 */
export class SqliteStatements {
  private readonly prepared = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly raw: BetterSqlite3.Database) {}

  prepare(text: string): BetterSqlite3.Statement {
    let statement = this.prepared.get(text);
    if (!statement) {
      statement = this.raw.prepare(text);
      this.prepared.set(text, statement);
    }
    return statement;
  }
}
