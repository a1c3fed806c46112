import { Migrator, type MigrationResultSet } from 'kysely';
import type { Backend } from './backend.js';
import { migrations as postgresMigrations } from './postgres/migrations/index.js';
import { migrations as sqliteMigrations } from './sqlite/migrations/index.js';

function migratorFor(backend: Backend): Migrator {
  const migrations = backend.dialect === 'sqlite' ? sqliteMigrations : postgresMigrations;
  return new Migrator({ db: backend.db, provider: { getMigrations: async () => migrations } });
}

/** Applies every pending migration; throws with the failing migration's name. */
export async function migrateToLatest(backend: Backend): Promise<string[]> {
  const result: MigrationResultSet = await migratorFor(backend).migrateToLatest();
  const failed = result.results?.find((r) => r.status === 'Error');
  if (result.error || failed) {
    const cause = result.error instanceof Error ? result.error.message : String(result.error);
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${cause}`);
  }
  return (result.results ?? []).map((r) => r.migrationName);
}

/** True when every known migration has been applied (used by readiness checks). */
export async function migrationsAreCurrent(backend: Backend): Promise<boolean> {
  const known = await migratorFor(backend).getMigrations();
  return known.every((m) => m.executedAt !== undefined);
}
