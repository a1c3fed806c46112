import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { messageIdempotencyKey } from '../../domain/messages.js';
import type { SqliteBackend } from '../backend.js';
import type { Database } from '../schema.js';
import type { OutboxBatch, OutboxInsert } from './types.js';

/**
 * Outbox rows per INSERT: one statement per row cost 8.4 s for a million rows
 * (2026-12-02, docs/engine.md), 50 rows per statement 5.7 s (100: 5.6 s). A batch's last
 * chunk is shorter, so at most this many statement texts are prepared.
 */
const OUTBOX_ROWS_PER_STATEMENT = 50;

/**
 * The outbox insert on SQLite: prepared statements on the raw handle, so the
 * caller's transaction must hold Kysely's one connection (the scheduler's
 * batch, or a Kysely transaction). Rows go 50 to a statement as VALUES rows
 * (see OUTBOX_ROWS_PER_STATEMENT): a third less than a statement per row,
 * which had measured no slower than one statement over a `json_each` list of
 * the batch (6–12 µs vs 14 µs a row on an earlier machine).
 */
export class SqliteOutboxInsert implements OutboxInsert {
  private readonly statements = new Map<number, BetterSqlite3.Statement>();

  constructor(private readonly backend: SqliteBackend) {}

  async insertMessages(_executor: Kysely<Database>, batch: OutboxBatch, now: number): Promise<number> {
    let inserted = 0;
    for (let first = 0; first < batch.items.length; first += OUTBOX_ROWS_PER_STATEMENT) {
      const chunk = batch.items.slice(first, first + OUTBOX_ROWS_PER_STATEMENT);
      // The SELECT list's parameters come first in the text, so they are bound first.
      const parameters: unknown[] = [batch.applicationId, batch.journeyId, batch.pointUuid, batch.channel, now, now];
      for (const m of chunk) {
        parameters.push(
          messageIdempotencyKey(m.runId, batch.pointUuid, batch.channel, m.recipient),
          m.runId,
          m.userId,
          m.hwid,
          m.recipient,
          JSON.stringify(m.payload),
          m.deliverAt,
        );
      }
      inserted += this.statementFor(chunk.length).run(parameters).changes;
    }
    return inserted;
  }

  /** The insert of `rows` outbox rows of one point: the per-message columns as VALUES rows, the batch's bound once. */
  private statementFor(rows: number): BetterSqlite3.Statement {
    let statement = this.statements.get(rows);
    if (!statement) {
      statement = this.backend.raw.prepare(
        `INSERT INTO outbox (idempotency_key, application_id, journey_id, run_id, point_uuid, user_id, channel, hwid,
                             recipient, payload, status, next_attempt_at, created_at, updated_at)
         SELECT column1, ?, ?, column2, ?, column3, ?, column4, column5, column6, 'pending', column7, ?, ?
         FROM (VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ')})
         WHERE true -- without a WHERE, SQLite would read ON CONFLICT as a join's ON
         ON CONFLICT (idempotency_key) DO NOTHING`,
      );
      this.statements.set(rows, statement);
    }
    return statement;
  }
}
