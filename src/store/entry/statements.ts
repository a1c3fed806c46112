import type { Kysely } from 'kysely';
import type { Backend, Dialect } from '../backend.js';
import type { Database } from '../schema.js';
import type { Wake } from '../wake.js';
import { insertUserIntoJourneys as insertUserIntoJourneysOnPostgres, PostgresEntryStatements } from './postgres.js';
import { insertUserIntoJourneys as insertUserIntoJourneysOnSqlite, SqliteEntryStatements } from './sqlite.js';
import type { EntryStatements, UserIntoJourneys } from './types.js';

/** The backend's implementation of the entry contract; `runWake` is announced whenever entered runs commit. */
export function entryStatements(backend: Backend, runWake: Wake): EntryStatements {
  return backend.dialect === 'sqlite' ? new SqliteEntryStatements(backend, runWake) : new PostgresEntryStatements(backend, runWake);
}

/** Inserts the runs of `entry` through `executor` (the event's transaction), with the dialect's one run insert. */
export async function enterUserIntoJourneys(executor: Kysely<Database>, dialect: Dialect, entry: UserIntoJourneys): Promise<void> {
  if (dialect === 'sqlite') await executor.executeQuery(insertUserIntoJourneysOnSqlite(entry));
  else await insertUserIntoJourneysOnPostgres(entry).execute(executor);
}
