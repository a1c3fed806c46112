import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import type { Database } from '../schema.js';

export interface SqliteConnection {
  readonly db: Kysely<Database>;
  /** The raw handle, for the few hot paths (bulk import) where prepared statements beat the query builder. */
  readonly raw: BetterSqlite3.Database;
}

/** Opens (creating if needed) a SQLite database file in WAL mode; `:memory:` works too. */
export function connectSqlite(path: string): SqliteConnection {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const raw = new BetterSqlite3(path);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  raw.pragma('cache_size = -65536');
  // A checkpoint copies each page changed since the last one back into the database file; the
  // engine and the entry rewrite the same hot pages (index leaves, counters, the newest rows) in
  // every transaction, so checkpointing every 10,000 WAL pages (~40 MB) instead of SQLite's 1,000
  // copies each of them a tenth as often. 100,000 runs due in one second: p99 lateness 1,024–1,319
  // → 466–869 ms; Start by API under load: p99 latency 29–30 → 11 ms (docs/engine.md).
  raw.pragma('wal_autocheckpoint = 10000');
  raw.defaultSafeIntegers(false);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
  return { db, raw };
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query anew, which costs more than running a small
 * one: caching cut the server's CPU per Start-by-API request by about a
 * third (docs/start-by-api.md). Kysely's SQLite driver runs one query at a
 * time on the connection, under its mutex, and a streamed query holds that
 * mutex until it ends, so a cached statement is never in use twice at once.
 * The least recently used are dropped beyond STATEMENT_CACHE_SIZE texts.
 */
function withStatementCache(raw: BetterSqlite3.Database): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => raw.close(),
    prepare(sql) {
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql);
      } else {
        statement = raw.prepare(sql);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
