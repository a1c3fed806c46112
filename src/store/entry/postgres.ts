import { sql, type Kysely, type RawBuilder, type Selectable, type Transaction } from 'kysely';
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
} from './types.js';
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
   * One transaction for the set: the requests' rows are locked, then their
   * journeys in id order (so two workers entering overlapping sets cannot
   * deadlock), and the first request of each running journey whose audience
   * is not staged yet is entered with the others in one statement
   * (`enterFromIds`). A request staged by an earlier attempt, of a journey
   * that stopped running, or the second of one journey in the set takes the
   * per-request path after it, so it sees the runs the statement entered.
   * One request at a time cost ~10 round trips each: under the load
   * benchmark entry fell ~45 s behind the acceptances (docs/start-by-api.md).
   */
  enterSmall(entries: readonly SmallEntry[], terms: LeaseTerms): Promise<SmallEntryOutcome[]> {
    return this.db.transaction().execute(async (trx) => {
      const outcomes: (SmallEntryOutcome | undefined)[] = new Array(entries.length);
      const held = await this.holdLeases(trx, entries.map(({ request }) => request));
      const statuses = await this.lockJourneys(trx, [...new Set(entries.map(({ request }) => request.journeyId))]);
      const together: number[] = [];
      const oneByOne: number[] = [];
      const journeysTaken = new Set<number>();
      for (const [i, { request }] of entries.entries()) {
        const lease = held.get(request.id);
        if (!lease) outcomes[i] = { kind: 'lease-lost' };
        else if (lease.audience_resolved || statuses.get(request.journeyId) !== 'STATUS_RUNNING') oneByOne.push(i);
        else if (journeysTaken.has(request.journeyId)) oneByOne.push(i);
        else {
          journeysTaken.add(request.journeyId);
          together.push(i);
        }
      }
      const entered = await this.enterFromIds(trx, together.map((i) => entries[i] as SmallEntry), terms.now);
      for (const i of together) outcomes[i] = { kind: 'done', entered: entered.get((entries[i] as SmallEntry).request.id) ?? 0 };
      if ([...entered.values()].some((n) => n > 0)) await this.runWake.announce(trx);
      for (const i of oneByOne) {
        const { request, allowReenter } = entries[i] as SmallEntry;
        outcomes[i] = await this.enterSmallOne(trx, request, allowReenter, terms);
      }
      return outcomes as SmallEntryOutcome[];
    });
  }

  /**
   * Locks, in id order, the rows of the requests whose lease their `owner`
   * still holds, and answers their progress by request id; a request missing
   * from the map has lost its lease.
   */
  private async holdLeases(trx: Transaction<Database>, requests: readonly ClaimedEntryRequest[]) {
    if (requests.length === 0) return new Map<number, HeldLease>();
    const rows = await trx
      .selectFrom('entry_requests')
      .select(['id', 'audience_resolved', 'selected', 'skipped_unknown', 'entered', 'skipped_already'])
      .where(
        sql<boolean>`(id, lease_owner) IN (SELECT * FROM unnest(
          ${requests.map((request) => request.id)}::bigint[], ${requests.map((request) => request.owner)}::text[]))`,
      )
      .where('status', '=', 'processing')
      .orderBy('id')
      .forUpdate()
      .execute();
    return new Map(rows.map((row) => [Number(row.id), row]));
  }

  /** Locks the request row while `request.owner` holds its lease; undefined when it does not. */
  private async holdLease(trx: Transaction<Database>, request: ClaimedEntryRequest): Promise<HeldLease | undefined> {
    return (await this.holdLeases(trx, [request])).get(request.id);
  }

  /**
   * Locks the journeys in id order, as every batch does, and answers their
   * statuses. It also keeps the transaction from sequential scans: an entry's
   * reads are key probes (stage chunks, each user's active run), and before
   * `runs` is first analyzed the planner takes an empty table for granted and
   * scanned it once per user (the first batch of 10,000 took 1.6 s instead
   * of 0.17).
   */
  private async lockJourneys(trx: Transaction<Database>, journeyIds: readonly number[]): Promise<Map<number, JourneyStatus>> {
    if (journeyIds.length === 0) return new Map();
    const { rows } = await sql<{ id: number; status: JourneyStatus }>`
      SELECT id, status, set_config('enable_seqscan', 'off', true) FROM journeys
      WHERE id = ANY(${[...journeyIds].sort((a, b) => a - b)}::bigint[]) ORDER BY id FOR NO KEY UPDATE`.execute(trx);
    return new Map(rows.map((row) => [Number(row.id), row.status]));
  }

  /**
   * Enters the distinct known users of each request straight from its id
   * list and marks it done, recording the counts the staged path records (a
   * user id is known when the user has a device, an hwid when its device
   * exists; users with an active run are skipped unless re-entry is allowed).
   * At most one request per journey: the statement's reads do not see its
   * own inserts. Answers the users entered per request id.
   */
  private async enterFromIds(trx: Transaction<Database>, entries: readonly SmallEntry[], now: number): Promise<Map<number, number>> {
    if (entries.length === 0) return new Map();
    const ids = entries.map(({ request }) => request.id);
    const reenter = entries.map(({ allowReenter }) => allowReenter);
    const { rows } = await sql<{ id: number; entered: number }>`
      WITH req AS (
        SELECT r.id, r.journey_id, r.application_id, r.point_uuid, r.attributes, r.selector_kind, r.selector,
               x.allow_reenter
        FROM unnest(${ids}::bigint[], ${reenter}::boolean[]) AS x(id, allow_reenter)
        JOIN entry_requests r ON r.id = x.id
      ), requested AS (
        SELECT req.id AS request_id, e.value AS external_id
        FROM req CROSS JOIN LATERAL jsonb_array_elements_text(req.selector::jsonb) AS e(value)
      ), distinct_requested AS (
        SELECT DISTINCT q.request_id, q.external_id, req.application_id, req.selector_kind
        FROM requested q JOIN req ON req.id = q.request_id
      ), known AS (
        SELECT q.request_id, d.user_id FROM distinct_requested q
        JOIN devices d ON d.application_id = q.application_id AND d.user_id = q.external_id
        WHERE q.selector_kind = 'users'
        UNION ALL
        SELECT q.request_id, d.user_id FROM distinct_requested q
        JOIN devices d ON d.application_id = q.application_id AND d.hwid = q.external_id
        WHERE q.selector_kind = 'hwids'
      ), known_users AS (
        SELECT DISTINCT request_id, user_id FROM known
      ), entered AS (
        INSERT INTO runs (journey_id, application_id, user_id, point_uuid, state, due_at, attributes,
                          entry_request_id, entered_at, updated_at)
        SELECT req.journey_id, req.application_id, u.user_id, req.point_uuid, 'active', ${now}, req.attributes,
               req.id, ${now}, ${now}
        FROM known_users u JOIN req ON req.id = u.request_id
        WHERE req.allow_reenter OR NOT EXISTS (
          SELECT 1 FROM runs r
          WHERE r.journey_id = req.journey_id AND r.user_id = u.user_id AND r.state = 'active'
          OFFSET 0)
        ORDER BY req.id, u.user_id
        RETURNING entry_request_id
      ), counts AS (
        SELECT req.id, req.journey_id, req.point_uuid, req.selector_kind,
               coalesce(q.n, 0) AS requested, coalesce(k.n, 0) AS known_devices,
               coalesce(u.n, 0) AS known_users, coalesce(e.n, 0) AS entered
        FROM req
        LEFT JOIN (SELECT request_id, count(*) AS n FROM requested GROUP BY request_id) q ON q.request_id = req.id
        LEFT JOIN (SELECT request_id, count(*) AS n FROM known GROUP BY request_id) k ON k.request_id = req.id
        LEFT JOIN (SELECT request_id, count(*) AS n FROM known_users GROUP BY request_id) u ON u.request_id = req.id
        LEFT JOIN (SELECT entry_request_id, count(*) AS n FROM entered GROUP BY entry_request_id) e
          ON e.entry_request_id = req.id
      ), tallied AS (
        SELECT c.*, c.requested - CASE WHEN c.selector_kind = 'users' THEN c.known_users ELSE c.known_devices END
                    AS unknown
        FROM counts c
      ), done AS (
        UPDATE entry_requests r
        SET audience_resolved = true, selected = t.known_users + t.unknown, skipped_unknown = t.unknown,
            entered = r.entered + t.entered, skipped_already = r.skipped_already + t.known_users - t.entered,
            status = 'done', finished_at = ${now}, lease_owner = NULL, lease_expires_at = NULL
        FROM tallied t WHERE r.id = t.id
      ), point_counters AS (
        INSERT INTO journey_point_counters AS c (journey_id, point_uuid, entered)
        SELECT journey_id, point_uuid, sum(entered) FROM tallied
        GROUP BY journey_id, point_uuid HAVING sum(entered) > 0
        ON CONFLICT (journey_id, point_uuid) DO UPDATE SET entered = c.entered + EXCLUDED.entered
      )
      SELECT id, entered, set_config('synchronous_commit', 'off', true) FROM tallied`.execute(trx);
    return new Map(rows.map((row) => [Number(row.id), Number(row.entered)]));
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
    const status = (await this.lockJourneys(trx, [request.journeyId])).get(request.journeyId) ?? 'STATUS_ARCHIVED';
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
}

type HeldLease = Pick<
  Selectable<Database['entry_requests']>,
  'audience_resolved' | 'selected' | 'skipped_unknown' | 'entered' | 'skipped_already'
>;

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
