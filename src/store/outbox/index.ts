import { sql, type Kysely, type Selectable } from 'kysely';
import { messageIdempotencyKey, type OutboundMessage } from '../../domain/messages.js';
import type { Backend } from '../backend.js';
import type { Database, OutboxTable } from '../schema.js';
import { postgresBulkInsert, SqliteBulkInserter, type BulkInsert } from '../sql/bulk-insert.js';
import { chunks } from '../sql/chunks.js';
import { addToPointCounters } from '../statistics/index.js';
import { OUTBOX_CHANNEL, Wake } from '../wake.js';
import { PostgresOutboxInsert } from './postgres.js';
import { SqliteOutboxInsert } from './sqlite.js';
import type { ClaimedMessage, Delivery, MessageOutcome, OutboxBatch, OutboxInsert, UnrenderedMessage } from './types.js';

export type { BatchMessage, ClaimedMessage, Delivery, MessageOutcome, OutboxBatch, UnrenderedMessage } from './types.js';

/**
 * The outbox: every message the engine produces is a row here, inserted in
 * the same transaction that moves its run on, and delivered from here by the
 * dispatcher (src/engine/dispatcher.ts). See docs/messages.md.
 *
 * A row's life: `pending` → claimed (a dispatcher sets `lease_owner` and pushes
 * `next_attempt_at` forward by its lease, so the row is not due again while
 * it is being delivered) → `sent` | `failed` (final, with a row in
 * message_deliveries) or back to pending with a later `next_attempt_at` for a
 * retry. A dispatcher that dies leaves its rows to come due again when their
 * lease runs out.
 */

const IDS_PER_STATEMENT = 1000;
/** Unrendered messages per INSERT: 15 parameters each, well under SQLite's 32,766. */
const UNRENDERED_PER_STATEMENT = 500;
/** The delivery log's provider for a message that failed before any provider saw it. */
export const NO_PROVIDER = 'none';

const DELIVERIES_INSERT: BulkInsert = {
  table: 'message_deliveries',
  columns: [
    ['outbox_id', 'bigint'],
    ['journey_id', 'bigint'],
    ['user_id', 'text'],
    ['outcome', 'text'],
    ['provider', 'text'],
    ['reason', 'text'],
    ['response_code', 'integer'],
    ['attempts', 'integer'],
    ['delivered_at', 'bigint'],
  ],
};

export class OutboxStore {
  /**
   * Announced whenever messages may have become due (enqueued, released, or
   * inserted by the scheduler's batch); dispatchers listen on it.
   */
  readonly newWork: Wake;
  private readonly insert: OutboxInsert;
  /** SQLite's delivery-log insert, prepared once; Postgres needs no preparation. */
  private readonly sqliteDeliveries: SqliteBulkInserter | undefined;

  constructor(private readonly backend: Backend) {
    this.newWork = new Wake(backend, OUTBOX_CHANNEL);
    if (backend.dialect === 'sqlite') {
      this.insert = new SqliteOutboxInsert(backend);
      this.sqliteDeliveries = new SqliteBulkInserter(backend.raw, DELIVERIES_INSERT);
    } else {
      this.insert = new PostgresOutboxInsert();
    }
  }

  /**
   * Inserts the batches' messages through `executor`, the transaction they
   * commit with: the scheduler's batch passes its own, so they commit with the
   * runs' moves. A message whose idempotency key is already in the outbox is
   * skipped, so re-executing a point after a crash cannot enqueue it twice.
   * Unrendered messages go in as `failed`, each with its delivery-log entry
   * (the batch counts them in the point's `failed`). Announces `newWork` when
   * any deliverable message was new; returns how many were.
   */
  async enqueue(batches: readonly OutboxBatch[], executor: Kysely<Database>, now: number): Promise<number> {
    let inserted = 0;
    for (const batch of batches) {
      if (batch.items.length > 0) inserted += await this.insert.insertMessages(executor, batch, now);
      if (batch.unrendered && batch.unrendered.length > 0) await this.insertUnrendered(executor, batch.unrendered, batch, now);
    }
    if (inserted > 0) await this.newWork.announce(executor);
    return inserted;
  }

  private async insertUnrendered(
    executor: Kysely<Database>,
    unrendered: readonly UnrenderedMessage[],
    batch: OutboxBatch,
    now: number,
  ): Promise<void> {
    for (const chunk of chunks(unrendered, UNRENDERED_PER_STATEMENT)) {
      const rows = await executor
        .insertInto('outbox')
        .values(
          chunk.map((m) => ({
            idempotency_key: messageIdempotencyKey(m.runId, batch.pointUuid, batch.channel, m.recipient),
            application_id: batch.applicationId,
            journey_id: batch.journeyId,
            run_id: m.runId,
            point_uuid: batch.pointUuid,
            user_id: m.userId,
            channel: batch.channel,
            hwid: m.hwid,
            recipient: m.recipient,
            // Nothing was rendered: the delivery log shows empty content and the reason.
            payload: '{}',
            status: 'failed' as const,
            attempts: 0,
            next_attempt_at: now,
            last_error: m.reason,
            created_at: now,
            updated_at: now,
          })),
        )
        .onConflict((oc) => oc.column('idempotency_key').doNothing())
        .returning(['id', 'user_id', 'last_error'])
        .execute();
      await this.insertDeliveries(
        executor,
        rows.map((row) => [row.id, batch.journeyId, row.user_id, 'failed', NO_PROVIDER, row.last_error, null, 0, now]),
      );
    }
  }

  /**
   * Claims up to `limit` due messages for `owner` until `now + leaseMs`,
   * counting the attempt. On Postgres, concurrent claimers skip each other's
   * locked rows (`FOR UPDATE SKIP LOCKED`), so no row is claimed twice.
   */
  async claimDue(owner: string, limit: number, leaseMs: number, now = Date.now()): Promise<ClaimedMessage[]> {
    const claim = (db: Kysely<Database>) =>
      db
        .updateTable('outbox')
        .set((eb) => ({
          lease_owner: owner,
          next_attempt_at: now + leaseMs,
          attempts: eb('attempts', '+', 1),
          updated_at: now,
        }))
        .where(
          'id',
          'in',
          db
            .selectFrom('outbox')
            .select('id')
            .where('status', '=', 'pending')
            .where('next_attempt_at', '<=', now)
            .orderBy('next_attempt_at')
            .limit(limit)
            .$if(this.backend.dialect === 'postgres', (qb) => qb.forUpdate().skipLocked()),
        )
        .returningAll()
        .execute();
    const rows =
      this.backend.dialect === 'sqlite'
        ? await claim(this.backend.db)
        : await this.backend.db.transaction().execute(async (trx) => {
            // The one good plan is an ordered scan of outbox_due that stops at the limit. Right after a
            // bulk enqueue, before autovacuum has analyzed the table, the planner underestimates the due
            // rows and sorts all of them instead: 85 ms per claim at 50,000 due, growing with the
            // backlog, against 1 ms for the index scan. Without sorting it can only choose the index.
            await sql`SET LOCAL enable_sort = off`.execute(trx);
            return claim(trx);
          });
    return rows.sort((a, b) => a.id - b.id).map(toClaimedMessage);
  }

  /**
   * The dispatchers' backlog: pending messages due by `now` and not under a
   * claim (a claim moves `next_attempt_at` to the lease's end), and the
   * earliest due time among them. One range scan of the outbox_due index.
   */
  async dueBacklog(now = Date.now()): Promise<{ messages: number; oldestDueAt: number | null }> {
    const row = await this.backend.db
      .selectFrom('outbox')
      .select((eb) => [eb.fn.countAll<number>().as('messages'), eb.fn.min('next_attempt_at').as('oldest')])
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .executeTakeFirstOrThrow();
    return { messages: Number(row.messages), oldestDueAt: row.oldest === null ? null : Number(row.oldest) };
  }

  /** Pushes the lease of messages `owner` still holds to `now + leaseMs`. */
  async extendLeases(owner: string, ids: readonly number[], leaseMs: number, now = Date.now()): Promise<void> {
    for (const chunk of chunks(ids, IDS_PER_STATEMENT)) {
      await this.backend.db
        .updateTable('outbox')
        .set({ next_attempt_at: now + leaseMs, updated_at: now })
        .where('id', 'in', chunk)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'pending')
        .execute();
    }
  }

  /** Gives back claimed messages that were never attempted: due now, attempt not counted. */
  async release(owner: string, ids: readonly number[], now = Date.now()): Promise<void> {
    for (const chunk of chunks(ids, IDS_PER_STATEMENT)) {
      await this.backend.db
        .updateTable('outbox')
        .set((eb) => ({ lease_owner: null, next_attempt_at: now, attempts: eb('attempts', '-', 1), updated_at: now }))
        .where('id', 'in', chunk)
        .where('lease_owner', '=', owner)
        .execute();
    }
  }

  /**
   * Records outcomes of messages `owner` claimed, in one transaction: final
   * ones set the row's status, append to the delivery log and add to the
   * point's sent/failed counters; retries schedule the next attempt. An
   * outcome for a row whose claim `owner` no longer holds (its lease ran out
   * and another dispatcher took it) is dropped: that dispatcher records it.
   * Returns the number of outcomes recorded.
   */
  async recordOutcomes(owner: string, outcomes: readonly MessageOutcome[], now = Date.now()): Promise<number> {
    if (outcomes.length === 0) return 0;
    return this.backend.db.transaction().execute(async (trx) => {
      let recorded = 0;
      const finals: { outcome: Extract<MessageOutcome, { kind: 'sent' | 'failed' }>; row: FinishedRow }[] = [];

      const sent = new Map<number, Extract<MessageOutcome, { kind: 'sent' }>>();
      for (const o of outcomes) if (o.kind === 'sent') sent.set(o.id, o);
      for (const chunk of chunks([...sent.keys()], IDS_PER_STATEMENT)) {
        const rows = await trx
          .updateTable('outbox')
          .set({ status: 'sent', lease_owner: null, last_error: null, updated_at: now })
          .where('id', 'in', chunk)
          .where('lease_owner', '=', owner)
          .returning(FINISHED_COLUMNS)
          .execute();
        for (const row of rows) finals.push({ outcome: sent.get(row.id) as (typeof finals)[number]['outcome'], row });
      }

      for (const o of outcomes) {
        if (o.kind === 'failed') {
          const row = await trx
            .updateTable('outbox')
            .set({ status: 'failed', lease_owner: null, last_error: o.reason, updated_at: now })
            .where('id', '=', o.id)
            .where('lease_owner', '=', owner)
            .returning(FINISHED_COLUMNS)
            .executeTakeFirst();
          if (row) finals.push({ outcome: o, row });
        } else if (o.kind === 'retry') {
          // The status is left alone: a message held or cancelled meanwhile stays so.
          const result = await trx
            .updateTable('outbox')
            .set({ lease_owner: null, next_attempt_at: o.nextAttemptAt, last_error: o.reason, updated_at: now })
            .where('id', '=', o.id)
            .where('lease_owner', '=', owner)
            .executeTakeFirst();
          recorded += Number(result.numUpdatedRows);
        }
      }

      await this.insertDeliveries(
        trx,
        finals.map(({ outcome, row }) => [
          row.id,
          row.journey_id,
          row.user_id,
          outcome.kind,
          outcome.provider,
          outcome.kind === 'failed' ? outcome.reason : null,
          outcome.responseCode ?? null,
          row.attempts,
          now,
        ]),
      );
      await addToPointCounters(
        trx,
        finals.map(({ outcome, row }) => ({ journeyId: row.journey_id, pointUuid: row.point_uuid, [outcome.kind]: 1 })),
      );
      return recorded + finals.length;
    });
  }

  /** The delivery log of one user in one journey, oldest first. */
  async listDeliveries(
    journeyId: number,
    userId: string,
    page: { offset: number; limit: number },
  ): Promise<{ total: number; items: Delivery[] }> {
    const { total } = await this.backend.db
      .selectFrom('message_deliveries')
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .where('journey_id', '=', journeyId)
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    const rows = await this.backend.db
      .selectFrom('message_deliveries as d')
      .innerJoin('outbox as o', 'o.id', 'd.outbox_id')
      .select([
        'o.id as message_id',
        'o.point_uuid',
        'o.channel',
        'o.hwid',
        'o.recipient',
        'o.payload',
        'o.created_at',
        'd.outcome',
        'd.provider',
        'd.reason',
        'd.response_code',
        'd.attempts',
        'd.delivered_at',
      ])
      .where('d.journey_id', '=', journeyId)
      .where('d.user_id', '=', userId)
      .orderBy('d.id')
      .offset(page.offset)
      .limit(page.limit)
      .execute();
    return {
      total: Number(total),
      items: rows.map((r) => ({
        messageId: r.message_id,
        pointUuid: r.point_uuid,
        channel: r.channel,
        hwid: r.hwid,
        recipient: r.recipient,
        content: JSON.parse(r.payload) as unknown,
        outcome: r.outcome,
        provider: r.provider,
        reason: r.reason,
        responseCode: r.response_code,
        attempts: r.attempts,
        createdAt: r.created_at,
        deliveredAt: r.delivered_at,
      })),
    };
  }

  /** Pausing a journey: its undelivered messages wait (messages already being delivered finish). */
  async holdJourney(journeyId: number, executor: Kysely<Database> = this.backend.db): Promise<number> {
    return this.setLiveStatus(executor, 'held', journeyId);
  }

  /** Resuming a journey: its held messages are delivered again, each at its own due time. */
  async resumeJourney(journeyId: number, executor: Kysely<Database> = this.backend.db): Promise<number> {
    const released = await this.setLiveStatus(executor, 'pending', journeyId);
    if (released > 0) await this.newWork.announce(executor);
    return released;
  }

  /**
   * Finishing a journey, or dropping users from it: their undelivered
   * messages are never sent. Returns how many were cancelled.
   */
  async cancelUndelivered(journeyId: number, userIds?: readonly string[], executor: Kysely<Database> = this.backend.db): Promise<number> {
    if (userIds === undefined) return this.setLiveStatus(executor, 'cancelled', journeyId);
    let cancelled = 0;
    for (const chunk of chunks(userIds, IDS_PER_STATEMENT)) {
      cancelled += await this.setLiveStatus(executor, 'cancelled', journeyId, chunk);
    }
    return cancelled;
  }

  private async setLiveStatus(
    executor: Kysely<Database>,
    status: 'pending' | 'held' | 'cancelled',
    journeyId: number,
    userIds?: readonly string[],
  ): Promise<number> {
    const result = await executor
      .updateTable('outbox')
      .set({ status, updated_at: Date.now() })
      .where('journey_id', '=', journeyId)
      .$if(userIds !== undefined, (qb) => qb.where('user_id', 'in', userIds as string[]))
      // Written exactly as the partial index's predicate so both dialects use it.
      .where('status', 'in', ['pending', 'held'])
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Appends to the delivery log inside `trx` (on SQLite, through the raw handle its transaction holds). */
  private async insertDeliveries(trx: Kysely<Database>, rows: readonly (readonly unknown[])[]): Promise<void> {
    if (this.sqliteDeliveries) this.sqliteDeliveries.insert(rows);
    else await postgresBulkInsert(trx, DELIVERIES_INSERT, rows);
  }
}

const FINISHED_COLUMNS = ['id', 'journey_id', 'point_uuid', 'user_id', 'attempts'] as const;
type FinishedRow = Pick<Selectable<OutboxTable>, (typeof FINISHED_COLUMNS)[number]>;

function toClaimedMessage(row: Selectable<OutboxTable>): ClaimedMessage {
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    applicationId: row.application_id,
    journeyId: row.journey_id,
    pointUuid: row.point_uuid,
    userId: row.user_id,
    message: { channel: row.channel, recipient: row.recipient, payload: JSON.parse(row.payload) as unknown } as OutboundMessage,
    attempt: row.attempts,
  };
}
