import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from './schema.js';

/**
 * The connection a store works through. Most queries are written once against
 * `db` (Kysely compiles them per dialect); code that needs a dialect's own
 * strengths narrows on `dialect` and uses `raw` or `pool`.
 */
export type Backend =
  | { readonly dialect: 'sqlite'; readonly db: Kysely<Database>; readonly raw: BetterSqlite3.Database }
  | { readonly dialect: 'postgres'; readonly db: Kysely<Database>; readonly pool: pg.Pool };

export type Dialect = Backend['dialect'];
export type SqliteBackend = Extract<Backend, { readonly dialect: 'sqlite' }>;
export type PostgresBackend = Extract<Backend, { readonly dialect: 'postgres' }>;
