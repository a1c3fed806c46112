import type { Backend } from '../backend.js';

/** A seglang expression saved under a name (Device API createFilter / listFilters). */
export interface NamedFilter {
  readonly name: string;
  readonly expression: string;
  readonly createdAt: number;
}

/** Named filters, per application; a name is unique within its application. */
export class FilterStore {
  constructor(private readonly backend: Backend) {}

  /** Saves the filter; false, writing nothing, when the application already has a filter of that name. */
  async create(applicationId: number, name: string, expression: string, now: number = Date.now()): Promise<boolean> {
    const inserted = await this.backend.db
      .insertInto('filters')
      .values({ application_id: applicationId, name, expression, created_at: now })
      .onConflict((oc) => oc.columns(['application_id', 'name']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  /** The application's filters, oldest first. */
  async list(applicationId: number): Promise<NamedFilter[]> {
    const rows = await this.backend.db
      .selectFrom('filters')
      .select(['name', 'expression', 'created_at'])
      .where('application_id', '=', applicationId)
      .orderBy('id')
      .execute();
    return rows.map((row) => ({ name: row.name, expression: row.expression, createdAt: row.created_at }));
  }
}
