import { Kysely, Migrator, sql, type MigrationResultSet } from 'kysely';
import type { Backend } from '../backend.js';
import { migrations as postgresMigrations } from '../postgres/migrations/index.js';
import { migrations as sqliteMigrations } from '../sqlite/migrations/index.js';
import { OneSchemaPostgresDialect } from './one-schema-postgres-dialect.js';

async function migratorFor(backend: Backend): Promise<Migrator> {
  const migrations = backend.dialect === 'sqlite' ? sqliteMigrations : postgresMigrations;
  const provider = { getMigrations: async () => migrations };
  if (backend.dialect === 'sqlite') return new Migrator({ db: backend.db, provider });
  // Unless told the schema, Kysely takes its bookkeeping tables in ANY schema of the
  // database for ours, so another journeyd schema (e.g. a concurrent test's) breaks migration.
  const { rows } = await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(backend.db);
  const schema = rows[0]?.schema ?? 'public';
  const db = new Kysely<unknown>({ dialect: new OneSchemaPostgresDialect({ pool: backend.pool }, schema) });
  return new Migrator({ db, provider, migrationTableSchema: schema });
}

/** Applies every pending migration; throws with the failing migration's name. */
export async function migrateToLatest(backend: Backend): Promise<string[]> {
  const result: MigrationResultSet = await (await migratorFor(backend)).migrateToLatest();
  const failed = result.results?.find((r) => r.status === 'Error');
  if (result.error || failed) {
    const cause = result.error instanceof Error ? result.error.message : String(result.error);
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${cause}`);
  }
  return (result.results ?? []).map((r) => r.migrationName);
}

/** True when every known migration has been applied (used by readiness checks). */
export async function migrationsAreCurrent(backend: Backend): Promise<boolean> {
  const known = await (await migratorFor(backend)).getMigrations();
  return known.every((m) => m.executedAt !== undefined);
}

/** True when any migration has been applied: the database is journeyd's, perhaps behind. */
export async function hasAppliedMigrations(backend: Backend): Promise<boolean> {
  const known = await (await migratorFor(backend)).getMigrations();
  return known.some((m) => m.executedAt !== undefined);
}
