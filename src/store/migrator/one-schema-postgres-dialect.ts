import {
  PostgresDialect,
  sql,
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type Kysely,
  type SchemaMetadata,
  type TableMetadata,
} from 'kysely';

/**
 * Kysely's Postgres introspector lists the tables of every schema and looks
 * each schema up by name (`has_schema_privilege`, `pg_get_serial_sequence`),
 * so a schema dropped by someone else during that query failed our migration
 * with "schema … does not exist" (10 of 15 migrations while another client
 * created and dropped schemas in a loop). The migrator only asks whether its
 * schema and bookkeeping tables exist: this dialect, on the store's own pool,
 * answers from the catalog rows of that one schema.
 */
export class OneSchemaPostgresDialect extends PostgresDialect {
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
