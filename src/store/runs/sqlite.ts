import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { messageIdempotencyKey, type Channel } from '../../domain/messages.js';
import type { SqliteBackend } from '../backend.js';
import type { Database, JourneyStatus } from '../schema.js';
import type { BatchMessage, BatchTerms, DueRun, GroupDue, MoveGroup, PointGroup, RunStatements } from './types.js';

/**
 * The scheduler's statements on SQLite. A batch is one `BEGIN IMMEDIATE`
 * transaction opened on the connection Kysely holds for it, so Kysely-built
 * reads (the batch's executor) and the raw prepared statements below run
 * inside it, and no other code of the process can use the connection until
 * it ends. Outbox rows are inserted 50 to a statement, as VALUES rows (see
 * OUTBOX_ROWS_PER_STATEMENT): a third less than a statement per row, which
 * had measured no slower than one statement over a `json_each` list of the
 * batch (6–12 µs vs 14 µs a row on an earlier machine). Moves are one
 * statement per group of runs that end up in the same place (`json_each` of
 * their ids), which saves the per-statement cost of a row each (7.9 → 6.2 µs
 * a run).
 */
export class SqliteRunStatements implements RunStatements {
  private readonly prepared = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly backend: SqliteBackend) {}

  transaction<T>(body: (executor: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.backend.db.connection().execute(async (connection) => {
      this.statement('BEGIN IMMEDIATE').run();
      try {
        const result = await body(connection);
        this.statement('COMMIT').run();
        return result;
      } catch (error) {
        if (this.backend.raw.inTransaction) this.statement('ROLLBACK').run();
        throw error;
      }
    });
  }

  async lockJourney(_executor: Kysely<Database>, journeyId: number): Promise<JourneyStatus | undefined> {
    const row = this.statement(`SELECT status FROM journeys WHERE id = ?`).get(journeyId) as { status: JourneyStatus } | undefined;
    return row?.status;
  }

  /** SQLite's one writer: a transition cannot run while a batch holds the write lock. */
  async awaitBatches(): Promise<void> {}

  async selectDue(_executor: Kysely<Database>, group: PointGroup, { now, limit }: BatchTerms): Promise<DueRun[]> {
    const rows = this.statement(
      `SELECT id, user_id, attributes, due_at, waiting_point FROM runs
       WHERE journey_id = ? AND state = 'active' AND point_uuid = ? AND due_at <= ?
       ORDER BY due_at LIMIT ?`,
    ).all(group.journeyId, group.pointUuid, now, limit) as DueRunRow[];
    return rows.map((row) => ({
      id: row.id,
      userId: row.user_id,
      attributes: row.attributes,
      dueAt: row.due_at,
      waitingPoint: row.waiting_point,
    }));
  }

  async applyMoves(_executor: Kysely<Database>, groups: readonly MoveGroup[], now: number): Promise<void> {
    const move = this.statement(
      `UPDATE runs SET point_uuid = ?, due_at = ?, waiting_point = ?, state = ?, exited_at = ?, updated_at = ?
       WHERE id IN (SELECT value FROM json_each(?))`,
    );
    for (const g of groups) {
      move.run(g.pointUuid, g.dueAt, g.waitingPoint, g.state, g.state === 'exited' ? now : null, now, JSON.stringify(g.runIds));
    }
  }

  async insertMessages(
    _executor: Kysely<Database>,
    group: PointGroup & { applicationId: number; channel: Channel },
    messages: readonly BatchMessage[],
    now: number,
  ): Promise<number> {
    let inserted = 0;
    for (let first = 0; first < messages.length; first += OUTBOX_ROWS_PER_STATEMENT) {
      const chunk = messages.slice(first, first + OUTBOX_ROWS_PER_STATEMENT);
      // The SELECT list's parameters come first in the text, so they are bound first.
      const parameters: unknown[] = [group.applicationId, group.journeyId, group.pointUuid, group.channel, now, now];
      for (const m of chunk) {
        parameters.push(
          messageIdempotencyKey(m.runId, group.pointUuid, group.channel, m.recipient),
          m.runId,
          m.userId,
          m.hwid,
          m.recipient,
          JSON.stringify(m.payload),
          m.deliverAt,
        );
      }
      inserted += this.outboxInsert(chunk.length).run(parameters).changes;
    }
    return inserted;
  }

  /** The insert of `rows` outbox rows of one point: the per-message columns as VALUES rows, the group's bound once. */
  private outboxInsert(rows: number): BetterSqlite3.Statement {
    return this.statement(
      `INSERT INTO outbox (idempotency_key, application_id, journey_id, run_id, point_uuid, user_id, channel, hwid,
                           recipient, payload, status, next_attempt_at, created_at, updated_at)
       SELECT column1, ?, ?, column2, ?, column3, ?, column4, column5, column6, 'pending', column7, ?, ?
       FROM (VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ')})
       WHERE true -- without a WHERE, SQLite would read ON CONFLICT as a join's ON
       ON CONFLICT (idempotency_key) DO NOTHING`,
    );
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
    const row = this.statement(
      `SELECT due_at FROM runs WHERE journey_id = ? AND state = 'active' AND point_uuid = ? ORDER BY due_at LIMIT 1`,
    ).get(group.journeyId, group.pointUuid) as { due_at: number } | undefined;
    return row ? row.due_at : null;
  }

  private statement(text: string): BetterSqlite3.Statement {
    let statement = this.prepared.get(text);
    if (!statement) {
      statement = this.backend.raw.prepare(text);
      this.prepared.set(text, statement);
    }
    return statement;
  }
}

/**
 * Outbox rows per INSERT: one statement per row cost 8.4 s for a million rows
 * (2026-12-02, docs/engine.md), 50 rows per statement 5.7 s (100: 5.6 s). A batch's last
 * chunk is shorter, so at most this many statement texts are prepared.
 */
const OUTBOX_ROWS_PER_STATEMENT = 50;

interface DueRunRow {
  id: number;
  user_id: string;
  attributes: string;
  due_at: number;
  waiting_point: string | null;
}
