import { CompiledQuery } from 'kysely';
import type { Backend } from '../backend.js';
import { CommittedRead } from './sqlite-committed-read.js';

/**
 * A query on a hot path, compiled once, that answers its first row. On SQLite
 * it reads outside Kysely's connection mutex whenever no transaction is open
 * (CommittedRead); otherwise, and on Postgres, it goes through Kysely.
 */
export class PreparedRead<Row> {
  private readonly committed: CommittedRead<Row> | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly query: CompiledQuery<Row>,
  ) {
    this.committed = backend.dialect === 'sqlite' ? new CommittedRead(backend.raw, query.sql) : undefined;
  }

  async first(...parameters: readonly unknown[]): Promise<Row | undefined> {
    const committed = this.committed?.get(...parameters);
    if (committed) return committed.row;
    const { rows } = await this.backend.db.executeQuery<Row>(CompiledQuery.raw(this.query.sql, [...parameters]));
    return rows[0];
  }
}
