import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Backend } from '../backend.js';
import {
  RATE_LIMIT_WINDOW_MS,
  type AcceptOutcome,
  type AudienceQuery,
  type BatchOutcome,
  type BatchTerms,
  type ClaimedEntryRequest,
  type EntryRequestInput,
  type EntryStatements,
  type LeaseTerms,
  type ResolveOutcome,
  type SmallEntry,
  type SmallEntryOutcome,
} from '../entry.js';
import type { JourneyParams, Point } from '../../domain/journey.js';
import type { Database, EntrySelectorKind, JourneyStatus } from '../schema.js';
import type { Wake } from '../wake.js';

type PostgresBackend = Extract<Backend, { dialect: 'postgres' }>;

/**
 * Most users in one row of entry_audience_chunks (migration 1000, which
 * chunked the stages of requests in progress by the same number). Batches
 * find their chunks by `first_seq > from - STAGE_CHUNK_SIZE`, so it may grow
 * but never shrink.
 */
const STAGE_CHUNK_SIZE = 10_000;

/**
 * Stages `users` (a query of distinct `user_id`s) for a request: sorted, numbered 1…n, in
 * chunks of STAGE_CHUNK_SIZE; returns each chunk's size as `n`.
 */
function stageChunks(requestId: number, users: RawBuilder<unknown>) {
  return sql`
    INSERT INTO entry_audience_chunks (request_id, first_seq, user_ids)
    SELECT ${requestId}::bigint, min(seq), array_agg(user_id ORDER BY seq)
    FROM (SELECT u.user_id, row_number() OVER (ORDER BY u.user_id) AS seq FROM (${users}) AS u) AS numbered
    GROUP BY (seq - 1) / ${STAGE_CHUNK_SIZE}
    RETURNING cardinality(user_ids) AS n`;
}

/** Every acceptance notifies this channel (on commit); idle entry workers LISTEN on it. */
export const ENTRY_CHANNEL = 'journeyd_entry_requests';

/**
 * Entry on Postgres, where many API and worker processes share the database:
 * - the rate-limit gate and the request insert are ONE statement: the upsert
 *   on entry_rate_limits only updates when the last acceptance is a window
 *   old, concurrent upserts of one key serialize on its row lock and
 *   re-check that condition against the winner's row, and the request insert
 *   reads the upsert's RETURNING, so it happens exactly when the gate opened;
 * - claims use FOR UPDATE SKIP LOCKED, so workers never wait on each other;
 * - each batch locks its journey row FOR NO KEY UPDATE, which serializes entry
 *   into one journey (the active-run check cannot race) and holds off a
 *   concurrent pause/finish until the batch commits, without blocking the
 *   foreign-key checks of new requests.
 */
export class PostgresEntryStatements implements EntryStatements {
  private readonly db: Kysely<Database>;

  constructor(
    private readonly backend: PostgresBackend,
    private readonly runWake: Wake,
  ) {
    this.db = backend.db;
  }

  async accept(uuid: string, input: EntryRequestInput, now: number): Promise<AcceptOutcome> {
    const selector = input.selector.kind === 'filter' ? input.selector.filter : JSON.stringify(input.selector.ids);
    const { rows } = await sql<{ uuid: string }>`
      WITH gate AS (
        INSERT INTO entry_rate_limits AS l (journey_id, point_uuid, last_accepted_at)
        VALUES (${input.journeyId}, ${input.pointUuid}, ${now})
        ON CONFLICT (journey_id, point_uuid) DO UPDATE SET last_accepted_at = EXCLUDED.last_accepted_at
        WHERE l.last_accepted_at <= EXCLUDED.last_accepted_at - ${sql.lit(RATE_LIMIT_WINDOW_MS)}
        RETURNING 1
      ), request AS (
        INSERT INTO entry_requests
          (uuid, journey_id, application_id, point_uuid, selector_kind, selector, attributes, status, created_at)
        SELECT ${uuid}, ${input.journeyId}, ${input.applicationId}, ${input.pointUuid}, ${input.selector.kind},
               ${selector}, ${JSON.stringify(input.attributes)}, 'queued', ${now}
        FROM gate
        RETURNING uuid
      )
      SELECT uuid, pg_notify(${ENTRY_CHANNEL}, '') FROM request`.execute(this.db);
    if (rows.length > 0) return { accepted: true, requestUuid: uuid };
    const last = await this.db
      .selectFrom('entry_rate_limits')
      .select('last_accepted_at')
      .where('journey_id', '=', input.journeyId)
      .where('point_uuid', '=', input.pointUuid)
      .executeTakeFirstOrThrow();
    return { accepted: false, retryAfterMs: Number(last.last_accepted_at) + RATE_LIMIT_WINDOW_MS - now };
  }

  async claim(owner: string, { now, leaseMs }: LeaseTerms, limit: number): Promise<ClaimedEntryRequest[]> {
    const { rows } = await sql<ClaimRow>`
      UPDATE entry_requests r
      SET status = 'processing', lease_owner = ${owner}, lease_expires_at = ${now + leaseMs},
          attempts = r.attempts + 1, started_at = COALESCE(r.started_at, ${now})
      FROM journeys j
      WHERE j.id = r.journey_id AND r.id IN (
        SELECT p.id FROM entry_requests p JOIN journeys pj ON pj.id = p.journey_id
        WHERE p.status IN ('queued', 'processing')
          AND (p.status = 'queued' OR p.lease_expires_at < ${now})
          AND pj.status NOT IN ('STATUS_PAUSED', 'STATUS_DRAFT')
        ORDER BY p.id LIMIT ${limit}
        FOR UPDATE OF p SKIP LOCKED)
      RETURNING r.id, r.uuid, r.journey_id, j.uuid AS journey_uuid, r.application_id, r.point_uuid,
                r.selector_kind, CASE WHEN r.selector_kind = 'filter' THEN r.selector END AS filter,
                CASE WHEN r.selector_kind = 'filter' THEN 0 ELSE jsonb_array_length(r.selector::jsonb) END AS id_count,
                r.attributes, r.audience_resolved, r.attempts,
                j.status AS journey_status, j.params AS journey_params, j.points AS journey_points`.execute(this.db);
    return rows.map((row) => toClaimed(row, owner)).sort((a, b) => a.id - b.id);
  }

  /**
   * Journeys are locked in id order, so two workers entering overlapping sets
   * of journeys cannot deadlock.
   */
  enterSmall(entries: readonly SmallEntry[], terms: LeaseTerms): Promise<SmallEntryOutcome[]> {
    const order = entries.map((_, i) => i).sort((a, b) => {
      const x = (entries[a] as SmallEntry).request;
      const y = (entries[b] as SmallEntry).request;
      return x.journeyId - y.journeyId || x.id - y.id;
    });
    return this.db.transaction().execute(async (trx) => {
      const outcomes: SmallEntryOutcome[] = new Array(entries.length);
      for (const i of order) {
        const { request, allowReenter } = entries[i] as SmallEntry;
        outcomes[i] = await this.enterSmallOne(trx, request, allowReenter, terms);
      }
      return outcomes;
    });
  }

  private async enterSmallOne(
    trx: Transaction<Database>,
    request: ClaimedEntryRequest,
    allowReenter: boolean,
    terms: LeaseTerms,
  ): Promise<SmallEntryOutcome> {
    const staged = await this.stage(trx, request, { kind: request.selectorKind === 'users' ? 'users' : 'hwids' }, terms);
    if (staged.kind === 'lease-lost') return staged;
    const batchSize = Math.max(1, request.idCount);
    const batch = await this.enterNextBatch(trx, request, { ...terms, allowReenter, batchSize });
    if (batch.kind !== 'entered') return batch;
    await this.markDone(trx, request, terms.now);
    return { kind: 'done', entered: batch.entered };
  }

  resolveAudience(request: ClaimedEntryRequest, audience: AudienceQuery, terms: LeaseTerms) {
    return this.db.transaction().execute((trx) => this.stage(trx, request, audience, terms));
  }

  /** Stages the audience unless that is done already. */
  private async stage(
    trx: Transaction<Database>,
    request: ClaimedEntryRequest,
    audience: AudienceQuery,
    { now, leaseMs }: LeaseTerms,
  ): Promise<ResolveOutcome> {
    const lease = await this.holdLease(trx, request);
    if (!lease) return { kind: 'lease-lost' };
    if (lease.audience_resolved) return { kind: 'resolved', selected: Number(lease.selected) };
    let staged: number;
    let unknown = 0;
    if (audience.kind === 'filter') {
      // userIds is a SELECT DISTINCT: each user is staged once.
      const { rows } = await sql<{ staged: number }>`
        WITH staged AS (${stageChunks(request.id, audience.userIds)})
        SELECT COALESCE(sum(n), 0) AS staged FROM staged`.execute(trx);
      staged = Number(rows[0]?.staged ?? 0);
    } else {
      const column = sql.ref(`d.${audience.kind === 'users' ? 'user_id' : 'hwid'}`);
      const { rows } = await sql<{ staged: number; known: number; requested: number }>`
        WITH requested AS (
          SELECT jsonb_array_elements_text(selector::jsonb) AS id FROM entry_requests WHERE id = ${request.id}
        ), known AS (
          SELECT d.user_id FROM devices d
          WHERE d.application_id = ${request.applicationId} AND ${column} IN (SELECT id FROM requested)
        ), staged AS (${stageChunks(request.id, sql`SELECT DISTINCT user_id FROM known`)})
        SELECT (SELECT COALESCE(sum(n), 0) FROM staged) AS staged, (SELECT count(*) FROM known) AS known,
               (SELECT count(*) FROM requested) AS requested`.execute(trx);
      const counts = rows[0] as { staged: number; known: number; requested: number };
      staged = Number(counts.staged);
      // For users a known id is a staged user; several hwids of one user stage that user once.
      unknown = Number(counts.requested) - (audience.kind === 'users' ? staged : Number(counts.known));
    }
    const selected = staged + unknown;
    await trx
      .updateTable('entry_requests')
      .set({ audience_resolved: true, selected, skipped_unknown: unknown, lease_expires_at: now + leaseMs })
      .where('id', '=', request.id)
      .execute();
    return { kind: 'resolved', selected };
  }

  enterBatch(request: ClaimedEntryRequest, terms: BatchTerms) {
    return this.db.transaction().execute((trx) => this.enterNextBatch(trx, request, terms));
  }

  /**
   * Enters the staged users numbered after those already taken (`entered +
   * skipped_already`, kept in the same transaction), so a batch reads a range
   * of the stage's key and deletes nothing; the stage goes when the request
   * ends. The commit does not wait for its WAL flush: should Postgres lose
   * it in a crash, it loses the runs and the progress together, and the next
   * batch enters those users again.
   */
  private async enterNextBatch(
    trx: Transaction<Database>,
    request: ClaimedEntryRequest,
    terms: BatchTerms,
  ): Promise<BatchOutcome> {
    const lease = await this.holdLease(trx, request);
    if (!lease) return { kind: 'lease-lost' };
    // Never a sequential scan: the batch's reads are key probes (its stage chunks, each user's active run),
    // and before `runs` is first analyzed the planner takes an empty table for granted and scanned it once
    // per user (the first batch of 10,000 took 1.6 s instead of 0.17).
    const journey = await sql<{ status: JourneyStatus }>`
      SELECT status, set_config('enable_seqscan', 'off', true) FROM journeys
      WHERE id = ${request.journeyId} FOR NO KEY UPDATE`.execute(trx);
    const status = journey.rows[0]?.status ?? 'STATUS_ARCHIVED';
    if (status !== 'STATUS_RUNNING') return { kind: 'journey-not-running', status };

    const takenBefore = Number(lease.entered) + Number(lease.skipped_already);
    const staged = Number(lease.selected) - Number(lease.skipped_unknown);
    // OFFSET 0 keeps NOT EXISTS a per-row probe of runs_active_by_user, whatever the statistics of
    // runs say (see SegmentEntryStore.enterBatch).
    const notAlreadyActive = terms.allowReenter
      ? sql``
      : sql`WHERE NOT EXISTS (
          SELECT 1 FROM runs r
          WHERE r.journey_id = ${request.journeyId} AND r.user_id = b.user_id AND r.state = 'active'
          OFFSET 0)`;
    const [from, to] = [takenBefore, takenBefore + terms.batchSize];
    const { rows } = await sql<{ taken: number; entered: number }>`
      WITH batch AS (
        SELECT x.user_id FROM entry_audience_chunks c CROSS JOIN LATERAL unnest(c.user_ids) WITH ORDINALITY AS x(user_id, k)
        WHERE c.request_id = ${request.id} AND c.first_seq > ${from - STAGE_CHUNK_SIZE} AND c.first_seq <= ${to}
          AND c.first_seq + x.k - 1 > ${from} AND c.first_seq + x.k - 1 <= ${to}
      ), entered AS (
        INSERT INTO runs (journey_id, application_id, user_id, point_uuid, state, due_at, attributes,
                          entry_request_id, entered_at, updated_at)
        SELECT ${request.journeyId}, ${request.applicationId}, b.user_id, ${request.pointUuid}, 'active',
               ${terms.now}, ${request.attributes}, ${request.id}, ${terms.now}, ${terms.now}
        FROM batch b
        ${notAlreadyActive}
        RETURNING 1
      ), counts AS (
        SELECT (SELECT count(*) FROM batch) AS taken, (SELECT count(*) FROM entered) AS entered
      ), progress AS (
        UPDATE entry_requests r
        SET entered = r.entered + counts.entered, skipped_already = r.skipped_already + counts.taken - counts.entered,
            lease_expires_at = ${terms.now + terms.leaseMs}
        FROM counts WHERE r.id = ${request.id}
      ), point_counter AS (
        INSERT INTO journey_point_counters AS c (journey_id, point_uuid, entered)
        SELECT ${request.journeyId}, ${request.pointUuid}, counts.entered FROM counts WHERE counts.entered > 0
        ON CONFLICT (journey_id, point_uuid) DO UPDATE SET entered = c.entered + EXCLUDED.entered
      )
      SELECT taken, entered, set_config('synchronous_commit', 'off', true) FROM counts`.execute(trx);
    const counts = rows[0] as { taken: number; entered: number };
    const taken = Number(counts.taken);
    const entered = Number(counts.entered);
    if (taken === 0 && takenBefore < staged) {
      // Would be taken again and again: fail the attempt instead (the worker retries, then fails the request).
      throw new Error(`the stage of request ${request.uuid} has no user numbered after ${takenBefore} of ${staged}`);
    }
    if (entered > 0) await this.runWake.announce(trx);
    return { kind: 'entered', taken, entered, remaining: takenBefore + taken < staged };
  }

  finish(request: ClaimedEntryRequest, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await this.holdLease(trx, request))) return false;
      await this.markDone(trx, request, now);
      return true;
    });
  }

  private async markDone(trx: Transaction<Database>, request: ClaimedEntryRequest, now: number): Promise<void> {
    await trx.deleteFrom('entry_audience_chunks').where('request_id', '=', request.id).execute();
    await trx
      .updateTable('entry_requests')
      .set({ status: 'done', finished_at: now, lease_owner: null, lease_expires_at: null })
      .where('id', '=', request.id)
      .execute();
  }

  fail(request: ClaimedEntryRequest, error: string, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await this.holdLease(trx, request))) return false;
      await trx.deleteFrom('entry_audience_chunks').where('request_id', '=', request.id).execute();
      await trx
        .updateTable('entry_requests')
        .set({ status: 'failed', error, finished_at: now, lease_owner: null, lease_expires_at: null })
        .where('id', '=', request.id)
        .execute();
      return true;
    });
  }

  async release(request: ClaimedEntryRequest): Promise<void> {
    await this.db
      .updateTable('entry_requests')
      .set({ status: 'queued', lease_owner: null, lease_expires_at: null })
      .where('id', '=', request.id)
      .where('status', '=', 'processing')
      .where('lease_owner', '=', request.owner)
      .execute();
  }

  async listen(onWake: () => void, onError: (error: Error) => void): Promise<() => Promise<void>> {
    const client = await this.backend.pool.connect();
    const onNotification = (message: { channel: string }) => {
      if (message.channel === ENTRY_CHANNEL) onWake();
    };
    let broken = false;
    const onClientError = (error: Error) => {
      broken = true;
      onError(error);
    };
    client.on('notification', onNotification);
    client.on('error', onClientError);
    try {
      await client.query(`LISTEN ${ENTRY_CHANNEL}`);
    } catch (error) {
      client.release(true);
      throw error;
    }
    return async () => {
      client.off('notification', onNotification);
      if (!broken) await client.query(`UNLISTEN ${ENTRY_CHANNEL}`).catch(() => (broken = true));
      client.off('error', onClientError);
      client.release(broken);
    };
  }

  /** Locks the request row while `request.owner` holds its lease; undefined when it does not. */
  private async holdLease(trx: Transaction<Database>, request: ClaimedEntryRequest) {
    return trx
      .selectFrom('entry_requests')
      .select(['audience_resolved', 'selected', 'skipped_unknown', 'entered', 'skipped_already'])
      .where('id', '=', request.id)
      .where('status', '=', 'processing')
      .where('lease_owner', '=', request.owner)
      .forUpdate()
      .executeTakeFirst();
  }
}

interface ClaimRow {
  id: number;
  uuid: string;
  journey_id: number;
  journey_uuid: string;
  application_id: number;
  point_uuid: string;
  selector_kind: EntrySelectorKind;
  filter: string | null;
  id_count: number;
  attributes: string;
  audience_resolved: boolean;
  attempts: number;
  journey_status: JourneyStatus;
  journey_params: string;
  journey_points: string;
}

function toClaimed(row: ClaimRow, owner: string): ClaimedEntryRequest {
  return {
    id: Number(row.id),
    uuid: row.uuid,
    journeyId: Number(row.journey_id),
    journeyUuid: row.journey_uuid,
    applicationId: Number(row.application_id),
    pointUuid: row.point_uuid,
    selectorKind: row.selector_kind,
    idCount: Number(row.id_count),
    filter: row.filter,
    attributes: row.attributes,
    audienceResolved: row.audience_resolved,
    attempts: row.attempts,
    owner,
    journey: {
      status: row.journey_status,
      params: JSON.parse(row.journey_params) as JourneyParams,
      points: JSON.parse(row.journey_points) as Point[],
    },
  };
}
