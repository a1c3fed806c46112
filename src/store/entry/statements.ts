import type { Backend } from '../backend.js';
import type { Wake } from '../wake.js';
import { PostgresEntryStatements } from './postgres.js';
import { SqliteEntryStatements } from './sqlite.js';
import type { EntryStatements } from './types.js';

/** The backend's implementation of the entry contract; `runWake` is announced whenever entered runs commit. */
export function entryStatements(backend: Backend, runWake: Wake): EntryStatements {
  return backend.dialect === 'sqlite' ? new SqliteEntryStatements(backend, runWake) : new PostgresEntryStatements(backend, runWake);
}
