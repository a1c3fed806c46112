import { sql, type Kysely } from 'kysely';
import type { PostgresBackend } from '../backend.js';
import type { Database, JourneyStatus } from '../schema.js';
import type { BatchTerms, DueRun, DueRunRow, GroupDue, MoveGroup, PointGroup, RunStatements } from './types.js';

/** The class of the engine's advisory locks (the two-integer key space, apart from single-bigint keys). */
const ENGINE_LOCK_CLASS = 7_001;

/**
 * The advisory lock of a journey's batches: each batch holds it shared, a
 * lifecycle transition takes it exclusively. Rather than a row lock on the
 * journey, which entry batches take exclusively (FOR NO KEY UPDATE) and so
 * would serialize entry with execution. Journeys whose ids agree modulo
 * 2^31 share a lock, which only makes a transition wait a little longer.
 */
function journeyBatchLock(journeyId: number) {
  return sql`${sql.lit(ENGINE_LOCK_CLASS)}, ${journeyId % 2_147_483_647}::int`;
}

/**
 * A batch whose worker stops talking to the server mid-transaction (the
 * process hung, the network went) is rolled back after this long, which
 * releases its rows to other workers and makes its late COMMIT fail: the
 * lease of a batch. Healthy batches spend milliseconds between statements.
 */
const BATCH_IDLE_TIMEOUT = '30s';

/**
 * A batch reads by key for a known set of runs and users (the devices of
 * 5,000 users, their tags), from pages that are in memory while the batch
 * works. At the default random_page_cost of 4 the planner priced those index
 * probes above a sequential scan of every device of the application once a
 * batch had a thousand users or so (44 ms instead of 16 for 1,000 users among
 * 100,000 devices, and ten times the scan among 1,000,000).
 */
const BATCH_RANDOM_PAGE_COST = '1.1';

/**
 * The scheduler's statements on Postgres: one round trip per statement, each
 * statement set-based over arrays (`unnest`, `= ANY`), so a batch of thousands of runs
 * costs a handful of round trips.
 */
export class PostgresRunStatements implements RunStatements {
  constructor(private readonly backend: PostgresBackend) {}

  transaction<T>(body: (executor: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.backend.db.transaction().execute(body);
  }

  /**
   * The journey's batch lock, shared, then its status: read after the lock
   * is held, so a batch that waited for a transition sees its outcome. The
   * first statement also sets the batch's idle timeout and page cost.
   */
  async lockJourney(executor: Kysely<Database>, journeyId: number): Promise<JourneyStatus | undefined> {
    await sql`SELECT pg_advisory_xact_lock_shared(${journeyBatchLock(journeyId)}),
                     set_config('idle_in_transaction_session_timeout', ${BATCH_IDLE_TIMEOUT}, true),
                     set_config('random_page_cost', ${BATCH_RANDOM_PAGE_COST}, true)`.execute(executor);
    const { rows } = await sql<{ status: JourneyStatus }>`SELECT status FROM journeys WHERE id = ${journeyId}`.execute(executor);
    return rows[0]?.status;
  }

  async awaitBatches(executor: Kysely<Database>, journeyId: number): Promise<void> {
    await sql`SELECT pg_advisory_xact_lock(${journeyBatchLock(journeyId)})`.execute(executor);
  }

  async selectDue(executor: Kysely<Database>, group: PointGroup, { now, limit }: BatchTerms): Promise<DueRun[]> {
    const { rows } = await sql<DueRunRow>`
      SELECT id, user_id, attributes, due_at, waiting_point FROM runs
      WHERE journey_id = ${group.journeyId} AND state = 'active' AND point_uuid = ${group.pointUuid}
        AND due_at <= ${now}
      ORDER BY due_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED`.execute(executor);
    return rows.map((row) => ({
      id: Number(row.id),
      userId: row.user_id,
      attributes: row.attributes,
      dueAt: Number(row.due_at),
      waitingPoint: row.waiting_point,
    }));
  }

  async applyMoves(executor: Kysely<Database>, groups: readonly MoveGroup[], now: number): Promise<void> {
    for (const g of groups) {
      await sql`
        UPDATE runs SET point_uuid = ${g.pointUuid}, due_at = ${g.dueAt}, waiting_point = ${g.waitingPoint},
          state = ${g.state}, exited_at = ${g.state === 'exited' ? now : null}, updated_at = ${now}
        WHERE id = ANY(${g.runIds}::bigint[])`.execute(executor);
    }
  }

  async commitWithoutFlush(executor: Kysely<Database>): Promise<void> {
    await sql`SELECT set_config('synchronous_commit', 'off', true)`.execute(executor);
  }

  async nextDueAt(executor: Kysely<Database>, group: PointGroup): Promise<number | null> {
    const { rows } = await sql<{ due_at: number }>`
      SELECT due_at FROM runs
      WHERE journey_id = ${group.journeyId} AND state = 'active' AND point_uuid = ${group.pointUuid}
      ORDER BY due_at LIMIT 1`.execute(executor);
    return rows[0] ? Number(rows[0].due_at) : null;
  }

  /** One statement for every group: an index seek per (journey, point). */
  async nextDueTimes(groups: readonly PointGroup[]): Promise<GroupDue[]> {
    const { rows } = await sql<{ journey_id: number; point_uuid: string; next_due_at: number | null }>`
      SELECT g.journey_id, g.point_uuid,
             (SELECT r.due_at FROM runs r
              WHERE r.journey_id = g.journey_id AND r.state = 'active' AND r.point_uuid = g.point_uuid
              ORDER BY r.due_at LIMIT 1) AS next_due_at
      FROM unnest(${groups.map((g) => g.journeyId)}::bigint[], ${groups.map((g) => g.pointUuid)}::text[])
        AS g(journey_id, point_uuid)`.execute(this.backend.db);
    return rows
      .filter((row) => row.next_due_at !== null)
      .map((row) => ({ journeyId: Number(row.journey_id), pointUuid: row.point_uuid, nextDueAt: Number(row.next_due_at) }));
  }
}
