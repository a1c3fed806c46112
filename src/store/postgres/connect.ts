import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../schema.js';

export interface PostgresConnection {
  readonly db: Kysely<Database>;
  readonly pool: pg.Pool;
}

const AUDIENCE_WORK_MEM = '64MB';
const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Our BIGINT columns hold ids and epoch milliseconds, all far below 2^53, so
 * they are parsed as numbers rather than pg's default strings. The parser is
 * set on this pool only, never globally.
 */
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    // @types/pg types this overload's parser as any.
    return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  },
};

export function connectPostgres(url: string, poolSize = 10): PostgresConnection {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types: typeParsers });
  // An idle client losing its connection (a Postgres restart) must not crash the process.
  pool.on('error', () => {});
  // Audience queries hash-join millions of device ids; at Postgres's default 4 MB the
  // join spills to disk (a 3-clause union took 2.3 s at 1M devices, half of it spilling).
  pool.on('connect', (client) => {
    // The pool listens for errors only while a client is idle: one checked out by a batch, between
    // two statements, would crash the process when Postgres restarts. Its next statement fails
    // instead, the batch rolls back and is retried, and the pool drops the unqueryable client.
    client.on('error', () => {});
    client.query(`SET work_mem = '${AUDIENCE_WORK_MEM}'`).catch(() => {});
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, pool };
}
