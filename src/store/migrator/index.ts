import {
  Kysely,
  Migrator,
  PostgresDialect,
  sql,
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type MigrationResultSet,
  type SchemaMetadata,
  type TableMetadata,
} from 'kysely';
import type { Backend } from '../backend.js';
import { migrations as postgresMigrations } from '../postgres/migrations/index.js';
import { migrations as sqliteMigrations } from '../sqlite/migrations/index.js';

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

/**
 * Kysely's Postgres introspector lists the tables of every schema and looks
 * each schema up by name (`has_schema_privilege`, `pg_get_serial_sequence`),
 * so a schema dropped by someone else during that query failed our migration
 * with "schema … does not exist" (10 of 15 migrations while another client
 * created and dropped schemas in a loop). The migrator only asks whether its
 * schema and bookkeeping tables exist: this dialect, on the store's own pool,
 * answers from the catalog rows of that one schema.
 */
class OneSchemaPostgresDialect extends PostgresDialect {
  constructor(
    config: ConstructorParameters<typeof PostgresDialect>[0],
    private readonly schema: string,
  ) {
    super(config);
  }

  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    const schema = this.schema;
    const getTables = async (): Promise<TableMetadata[]> => {
      const { rows } = await sql<{ name: string; kind: string }>`
        SELECT c.relname AS name, c.relkind AS kind FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p', 'v')`.execute(db);
      return rows.map((row) => ({ name: row.name, schema, isView: row.kind === 'v', columns: [] }));
    };
    return {
      async getSchemas(): Promise<SchemaMetadata[]> {
        const { rows } = await sql<{ name: string }>`
          SELECT nspname AS name FROM pg_catalog.pg_namespace WHERE nspname = ${schema}`.execute(db);
        return rows;
      },
      getTables,
      async getMetadata(): Promise<DatabaseMetadata> {
        return { tables: await getTables() };
      },
    };
  }
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
