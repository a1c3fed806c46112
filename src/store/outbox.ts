import { sql, type Kysely, type Selectable } from 'kysely';
import { messageIdempotencyKey, type OutboundMessage } from '../domain/messages.js';
import type { Backend } from './backend.js';
import { postgresBulkInsert, SqliteBulkInserter, type BulkInsert } from './sql/bulk-insert.js';
import { chunks } from './sql/chunks.js';
import type { Database, OutboxTable } from './schema.js';
import { OUTBOX_CHANNEL, Wake } from './wake.js';

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

const OUTBOX_INSERT: BulkInsert = {
  table: 'outbox',
  columns: [
    ['idempotency_key', 'text'],
    ['application_id', 'bigint'],
    ['journey_id', 'bigint'],
    ['run_id', 'bigint'],
    ['point_uuid', 'text'],
    ['user_id', 'text'],
    ['channel', 'text'],
    ['hwid', 'text'],
    ['recipient', 'text'],
    ['payload', 'text'],
    ['status', 'text'],
    ['next_attempt_at', 'bigint'],
    ['created_at', 'bigint'],
    ['updated_at', 'bigint'],
  ],
  suffix: 'ON CONFLICT (idempotency_key) DO NOTHING',
};

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

/** A message for the outbox, as the engine produces it. */
export interface NewMessage {
  readonly applicationId: number;
  readonly journeyId: number;
  readonly runId: number;
  readonly pointUuid: string;
  readonly userId: string;
  /** The device the message goes to, when it goes to one. */
  readonly hwid?: string | null;
  readonly message: OutboundMessage;
  /** When to deliver it; now when omitted. */
  readonly deliverAt?: number;
}

/** A message a dispatcher has claimed and must deliver. */
export interface ClaimedMessage {
  readonly id: number;
  readonly idempotencyKey: string;
  readonly applicationId: number;
  readonly journeyId: number;
  readonly pointUuid: string;
  readonly userId: string;
  readonly message: OutboundMessage;
  /** This attempt's number, from 1. */
  readonly attempt: number;
}

/** What happened to one claimed message. */
export type MessageOutcome =
  | { readonly id: number; readonly kind: 'sent'; readonly provider: string; readonly responseCode?: number }
  | {
      readonly id: number;
      readonly kind: 'failed';
      readonly provider: string;
      readonly reason: string;
      readonly responseCode?: number;
    }
  | { readonly id: number; readonly kind: 'retry'; readonly reason: string; readonly nextAttemptAt: number };

/** One entry of the delivery log, with the message it is about. */
export interface Delivery {
  readonly messageId: number;
  readonly pointUuid: string;
  readonly channel: OutboundMessage['channel'];
  readonly hwid: string | null;
  readonly recipient: string;
  readonly content: unknown;
  readonly outcome: 'sent' | 'failed';
  readonly provider: string;
  readonly reason: string | null;
  readonly responseCode: number | null;
  readonly attempts: number;
  readonly createdAt: number;
  readonly deliveredAt: number;
}

export class OutboxStore {
  /**
   * Announced whenever messages may have become due (enqueued, released, or
   * inserted by the scheduler's batch); dispatchers listen on it.
   */
  readonly newWork: Wake;
  private readonly sqliteInserts: { outbox: SqliteBulkInserter; deliveries: SqliteBulkInserter } | undefined;

  constructor(private readonly backend: Backend) {
    this.newWork = new Wake(backend, OUTBOX_CHANNEL);
    this.sqliteInserts =
      backend.dialect === 'sqlite'
        ? {
            outbox: new SqliteBulkInserter(backend.raw, OUTBOX_INSERT),
            deliveries: new SqliteBulkInserter(backend.raw, DELIVERIES_INSERT),
          }
        : undefined;
  }

  /**
   * Inserts messages with multi-row statements through `executor` — pass the
   * engine's transaction (of this store's database) so they commit with the
   * runs' moves. A message whose idempotency key is already in the outbox is
   * skipped, so re-executing a point after a crash cannot enqueue it twice.
   * Returns how many were new.
   */
  async enqueue(messages: readonly NewMessage[], executor: Kysely<Database> = this.backend.db): Promise<number> {
    if (messages.length === 0) return 0;
    const now = Date.now();
    const rows = messages.map((m) => [
      messageIdempotencyKey(m.runId, m.pointUuid, m.message.channel, m.message.recipient),
      m.applicationId,
      m.journeyId,
      m.runId,
      m.pointUuid,
      m.userId,
      m.message.channel,
      m.hwid ?? null,
      m.message.recipient,
      JSON.stringify(m.message.payload),
      'pending',
      m.deliverAt ?? now,
      now,
      now,
    ]);
    const inserted = await this.bulkInsert(executor, 'outbox', rows);
    if (inserted > 0) await this.newWork.announce(executor);
    return inserted;
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

      await this.bulkInsert(
        trx,
        'deliveries',
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
      await addToPointCounters(trx, finals);
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

  /**
   * A bulk insert through `executor`. On SQLite the prepared statements run on
   * the raw handle, inside `executor`'s transaction or, when it is not one, a
   * transaction opened here (so that nothing else interleaves on the connection).
   */
  private async bulkInsert(
    executor: Kysely<Database>,
    target: 'outbox' | 'deliveries',
    rows: readonly (readonly unknown[])[],
  ): Promise<number> {
    if (!this.sqliteInserts) return postgresBulkInsert(executor, target === 'outbox' ? OUTBOX_INSERT : DELIVERIES_INSERT, rows);
    const inserter = this.sqliteInserts[target];
    if (executor.isTransaction) return inserter.insert(rows);
    return executor.transaction().execute(async () => inserter.insert(rows));
  }
}

const FINISHED_COLUMNS = ['id', 'journey_id', 'point_uuid', 'user_id', 'attempts'] as const;
type FinishedRow = Pick<Selectable<OutboxTable>, (typeof FINISHED_COLUMNS)[number]>;

/** Adds final outcomes to the per-point `sent` / `failed` counters the statistics endpoint reads. */
async function addToPointCounters(
  trx: Kysely<Database>,
  finals: readonly { outcome: { kind: 'sent' | 'failed' }; row: FinishedRow }[],
): Promise<void> {
  type Counts = { journey_id: number; point_uuid: string; entered: 0; passed: 0; sent: number; failed: number };
  const byPoint = new Map<string, Counts>();
  for (const { outcome, row } of finals) {
    const key = `${row.journey_id}\u0000${row.point_uuid}`;
    let counts = byPoint.get(key);
    if (!counts) {
      counts = { journey_id: row.journey_id, point_uuid: row.point_uuid, entered: 0, passed: 0, sent: 0, failed: 0 };
      byPoint.set(key, counts);
    }
    counts[outcome.kind]++;
  }
  if (byPoint.size === 0) return;
  await trx
    .insertInto('journey_point_counters')
    .values([...byPoint.values()])
    .onConflict((oc) =>
      oc.columns(['journey_id', 'point_uuid']).doUpdateSet((eb) => ({
        sent: eb('journey_point_counters.sent', '+', eb.ref('excluded.sent')),
        failed: eb('journey_point_counters.failed', '+', eb.ref('excluded.failed')),
      })),
    )
    .execute();
}

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
