import type { Kysely } from 'kysely';
import type { SqliteBackend } from '../backend.js';
import type { Database, JourneyStatus } from '../schema.js';
import type { BatchTerms, DueRun, DueRunRow, GroupDue, MoveGroup, PointGroup, RunStatements } from './types.js';
import { SqliteStatements } from '../sql/sqlite-statements.js';

/**
 * The scheduler's statements on SQLite. A batch is one `BEGIN IMMEDIATE`
 * transaction opened on the connection Kysely holds for it, so Kysely-built
 * reads (the batch's executor) and the raw prepared statements below run
 * inside it, and no other code of the process can use the connection until
 * it ends (the batch's outbox insert, src/store/outbox/sqlite.ts, relies on
 * that too). Moves are one
 * statement per group of runs that end up in the same place (`json_each` of
 * their ids), which saves the per-statement cost of a row each (7.9 → 6.2 µs
 * a run).
 */
export class SqliteRunStatements implements RunStatements {
  private readonly statements: SqliteStatements;

  constructor(private readonly backend: SqliteBackend) {
    this.statements = new SqliteStatements(backend.raw);
  }

  transaction<T>(body: (executor: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.backend.db.connection().execute(async (connection) => {
      this.statements.prepare('BEGIN IMMEDIATE').run();
      try {
        const result = await body(connection);
        this.statements.prepare('COMMIT').run();
        return result;
      } catch (error) {
        if (this.backend.raw.inTransaction) this.statements.prepare('ROLLBACK').run();
        throw error;
      }
    });
  }

  async lockJourney(_executor: Kysely<Database>, journeyId: number): Promise<JourneyStatus | undefined> {
    const row = this.statements.prepare(`SELECT status FROM journeys WHERE id = ?`).get(journeyId) as { status: JourneyStatus } | undefined;
    return row?.status;
  }

  /** SQLite's one writer: a transition cannot run while a batch holds the write lock. */
  async awaitBatches(): Promise<void> {}

  async selectDue(_executor: Kysely<Database>, group: PointGroup, { now, limit }: BatchTerms): Promise<DueRun[]> {
    const rows = this.statements
      .prepare(
        `SELECT id, user_id, attributes, due_at, waiting_point FROM runs
       WHERE journey_id = ? AND state = 'active' AND point_uuid = ? AND due_at <= ?
       ORDER BY due_at LIMIT ?`,
      )
      .all(group.journeyId, group.pointUuid, now, limit) as DueRunRow[];
    return rows.map((row) => ({
      id: row.id,
      userId: row.user_id,
      attributes: row.attributes,
      dueAt: row.due_at,
      waitingPoint: row.waiting_point,
    }));
  }

  async applyMoves(_executor: Kysely<Database>, groups: readonly MoveGroup[], now: number): Promise<void> {
    const move = this.statements.prepare(
      `UPDATE runs SET point_uuid = ?, due_at = ?, waiting_point = ?, state = ?, exited_at = ?, updated_at = ?
       WHERE id IN (SELECT value FROM json_each(?))`,
    );
    for (const g of groups) {
      move.run(g.pointUuid, g.dueAt, g.waitingPoint, g.state, g.state === 'exited' ? now : null, now, JSON.stringify(g.runIds));
    }
  }

  async commitWithoutFlush(): Promise<void> {}

  async nextDueAt(_executor: Kysely<Database>, group: PointGroup): Promise<number | null> {
    return this.probe(group);
  }

  nextDueTimes(groups: readonly PointGroup[]): Promise<GroupDue[]> {
    // Through Kysely's connection, so that no batch transaction of this process is open meanwhile.
    return this.backend.db.connection().execute(async () => {
      const due: GroupDue[] = [];
      for (const group of groups) {
        const nextDueAt = this.probe(group);
        if (nextDueAt !== null) due.push({ ...group, nextDueAt });
      }
      return due;
    });
  }

  /** One index seek on runs_due. */
  private probe(group: PointGroup): number | null {
    const row = this.statements
      .prepare(`SELECT due_at FROM runs WHERE journey_id = ? AND state = 'active' AND point_uuid = ? ORDER BY due_at LIMIT 1`)
      .get(group.journeyId, group.pointUuid) as { due_at: number } | undefined;
    return row ? row.due_at : null;
  }
}
