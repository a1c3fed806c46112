import { sql, type Kysely, type RawBuilder, type Selectable, type Transaction } from 'kysely';
import { faultPoint } from '../../fault-points.js';
import type { Backend } from '../backend.js';
import { CLAIMABLE_STATUS, PROGRESS_TABLE, SOURCE_CODE } from './sources.js';
import {
  RATE_LIMIT_WINDOW_MS,
  stagedRequest,
  storedSelectorColumns,
  type AcceptOutcome,
  type ClaimedEntryRequest,
  type EntryRequestInput,
  type EntryStatements,
  type LeaseTerms,
  type EntrySource,
  type ResolveOutcome,
  type SmallEntry,
  type SmallEntryOutcome,
  type StageAudience,
  type StageBatchOutcome,
  type StageBatchTerms,
  type StagedEntry,
  type UserIntoJourneys,
} from './types.js';
import type { JourneyParams } from '../../domain/journey.js';
import type { Database, JourneyStatus } from '../schema.js';
import { isSet } from '../sql/flag.js';
import { pointCounterUpsert } from '../statistics/point-counters.js';
import { ENTRY_CHANNEL, type Wake } from '../wake.js';
import { toClaimedRequest, type ClaimRow } from './claim-row.js';

type PostgresBackend = Extract<Backend, { dialect: 'postgres' }>;

/**
 * Most users in one row of entry_stage_chunks (migrations 1000 and 1100,
 * which chunked the stages of entries in progress by the same number). Batches
 * find their chunks by `first_seq > from - STAGE_CHUNK_SIZE`, so it may grow
 * but never shrink.
 */
const STAGE_CHUNK_SIZE = 10_000;

/**
 * Stages `users` (a query of distinct `user_id`s) for an entry: sorted, numbered 1…n, in
 * chunks of STAGE_CHUNK_SIZE; returns each chunk's size as `n`.
 */
function stageChunks(entry: StagedEntry, users: RawBuilder<unknown>) {
  return sql`
    INSERT INTO entry_stage_chunks (source, source_id, first_seq, user_ids)
    SELECT ${SOURCE_CODE[entry.source]}::smallint, ${entry.id}::bigint, min(seq), array_agg(user_id ORDER BY seq)
    FROM (SELECT u.user_id, row_number() OVER (ORDER BY u.user_id) AS seq FROM (${users}) AS u) AS numbered
    GROUP BY (seq - 1) / ${STAGE_CHUNK_SIZE}
    RETURNING cardinality(user_ids) AS n`;
}

/**
 * The one statement that inserts entered runs on Postgres, for every entry
 * path (a set of small requests, a staged batch of a request or a segment),
 * RETURNING each run's `entry_request_id`. `entrants` selects `journey_id`,
 * `application_id`, `user_id`, `point_uuid`, `attributes`,
 * `entry_request_id` and, when `allowReenter` is 'per-row', `allow_reenter`;
 * a run starts `active` at the entry point, due `now`. Users with an active
 * run are skipped unless re-entry is allowed. `ordered` inserts in request
 * and user-id order, so the runs extend runs_active_by_user at its end.
 */
function insertRuns(
  entrants: RawBuilder<unknown>,
  now: number,
  { allowReenter, ordered }: { allowReenter: boolean | 'per-row'; ordered: boolean },
) {
  // OFFSET 0 keeps NOT EXISTS a per-row probe of runs_active_by_user: flattened into an anti-join,
  // statistics of a runs table that was small when last analyzed made it re-read every active run of
  // the journey per staged user (49 s for 10,000 users against 20,000 runs, against 0.23 s probing).
  // See also `RunStore.refreshStatistics`.
  const notAlreadyActive = sql`NOT EXISTS (
    SELECT 1 FROM runs r WHERE r.journey_id = e.journey_id AND r.user_id = e.user_id AND r.state = 'active'
    OFFSET 0)`;
  const condition =
    allowReenter === true
      ? sql``
      : allowReenter === false
        ? sql`WHERE ${notAlreadyActive}`
        : sql`WHERE e.allow_reenter OR ${notAlreadyActive}`;
  return sql`
    INSERT INTO runs (journey_id, application_id, user_id, point_uuid, state, due_at, attributes,
                      entry_request_id, entered_at, updated_at)
    SELECT e.journey_id, e.application_id, e.user_id, e.point_uuid, 'active', ${now}, e.attributes,
           e.entry_request_id, ${now}, ${now}
    FROM (${entrants}) AS e
    ${condition}
    ${ordered ? sql`ORDER BY e.entry_request_id, e.user_id` : sql``}
    RETURNING entry_request_id`;
}

/** Event entry's run insert on Postgres: one user into several journeys, in one statement. */
export function insertUserIntoJourneys(entry: UserIntoJourneys): RawBuilder<unknown> {
  const journeyIds = entry.points.map(({ journeyId }) => journeyId);
  const pointUuids = entry.points.map(({ pointUuid }) => pointUuid);
  return insertRuns(
    sql`SELECT x.journey_id, ${entry.applicationId}::bigint AS application_id, ${entry.userId}::text AS user_id,
               x.point_uuid, ${entry.attributes}::text AS attributes, NULL::bigint AS entry_request_id
        FROM unnest(${journeyIds}::bigint[], ${pointUuids}::text[]) WITH ORDINALITY AS x(journey_id, point_uuid, k)
        ORDER BY x.k`,
    entry.now,
    { allowReenter: true, ordered: false },
  );
}

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
    const { selector, idCount } = storedSelectorColumns(input.selector);
    const { rows } = await sql<{ uuid: string }>`
      WITH gate AS (
        INSERT INTO entry_rate_limits AS l (journey_id, point_uuid, last_accepted_at)
        VALUES (${input.journeyId}, ${input.pointUuid}, ${now})
        ON CONFLICT (journey_id, point_uuid) DO UPDATE SET last_accepted_at = EXCLUDED.last_accepted_at
        WHERE l.last_accepted_at <= EXCLUDED.last_accepted_at - ${sql.lit(RATE_LIMIT_WINDOW_MS)}
        RETURNING 1
      ), request AS (
        INSERT INTO entry_requests
          (uuid, journey_id, application_id, point_uuid, selector_kind, selector, id_count, attributes, status, created_at)
        SELECT ${uuid}, ${input.journeyId}, ${input.applicationId}, ${input.pointUuid}, ${input.selector.kind},
               ${selector}, ${idCount}, ${JSON.stringify(input.attributes)}, 'queued', ${now}
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
                r.id_count, r.attributes, r.audience_resolved, r.attempts,
                j.status AS journey_status, j.params AS journey_params, j.points AS journey_points`.execute(this.db);
    return rows.map((row) => toClaimedRequest(row, owner)).sort((a, b) => a.id - b.id);
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
      const outcomes: (SmallEntryOutcome | undefined)[] = new Array<SmallEntryOutcome | undefined>(entries.length);
      const held = await this.holdLeases(
        trx,
        'request',
        entries.map(({ request }) => request),
      );
      const journeys = await this.lockJourneys(trx, [...new Set(entries.map(({ request }) => request.journeyId))]);
      const together: number[] = [];
      const oneByOne: number[] = [];
      const journeysTaken = new Set<number>();
      for (const [i, { request }] of entries.entries()) {
        const lease = held.get(request.id);
        if (!lease) outcomes[i] = { kind: 'lease-lost' };
        else if (isSet(lease.audience_resolved) || journeys.get(request.journeyId)?.status !== 'STATUS_RUNNING') oneByOne.push(i);
        else if (journeysTaken.has(request.journeyId)) oneByOne.push(i);
        else {
          journeysTaken.add(request.journeyId);
          together.push(i);
        }
      }
      const entered = await this.enterFromIds(
        trx,
        together.map((i) => entries[i] as SmallEntry),
        terms.now,
      );
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
   * Locks, in id order, the progress rows of the entries (all of one source)
   * whose lease their `owner` still holds, and answers their progress by id;
   * an entry missing from the map has lost its lease.
   */
  private async holdLeases(
    trx: Transaction<Database>,
    source: EntrySource,
    entries: readonly Pick<StagedEntry, 'id' | 'owner'>[],
  ): Promise<Map<number, HeldLease>> {
    if (entries.length === 0) return new Map();
    const { rows } = await sql<HeldLease & { id: number }>`
      SELECT id, audience_resolved, selected, skipped_unknown, entered, skipped_already
      FROM ${sql.table(PROGRESS_TABLE[source])}
      WHERE (id, lease_owner) IN (SELECT * FROM unnest(
          ${entries.map((entry) => entry.id)}::bigint[], ${entries.map((entry) => entry.owner)}::text[]))
        AND status = 'processing'
      ORDER BY id
      FOR UPDATE`.execute(trx);
    return new Map(rows.map((row) => [Number(row.id), row]));
  }

  /** Locks the entry's progress row while `entry.owner` holds its lease; undefined when it does not. */
  private async holdLease(trx: Transaction<Database>, entry: StagedEntry): Promise<HeldLease | undefined> {
    return (await this.holdLeases(trx, entry.source, [entry])).get(entry.id);
  }

  /**
   * Locks the journeys in id order, as every batch does, and answers their
   * statuses. It also keeps the transaction from sequential scans: an entry's
   * reads are key probes (stage chunks, each user's active run), and before
   * `runs` is first analyzed the planner takes an empty table for granted and
   * scanned it once per user (the first batch of 10,000 took 1.6 s instead
   * of 0.17).
   */
  private async lockJourneys(trx: Transaction<Database>, journeyIds: readonly number[]): Promise<Map<number, LockedJourney>> {
    if (journeyIds.length === 0) return new Map();
    const { rows } = await sql<LockedJourney & { id: number }>`
      SELECT id, status, params, set_config('enable_seqscan', 'off', true) FROM journeys
      WHERE id = ANY(${[...journeyIds].sort((a, b) => a - b)}::bigint[]) ORDER BY id FOR NO KEY UPDATE`.execute(trx);
    return new Map(rows.map((row) => [Number(row.id), row]));
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
      ), entered AS (${insertRuns(
        sql`SELECT req.journey_id, req.application_id, u.user_id, req.point_uuid, req.attributes,
                   req.id AS entry_request_id, req.allow_reenter
            FROM known_users u JOIN req ON req.id = u.request_id`,
        now,
        { allowReenter: 'per-row', ordered: true },
      )}), counts AS (
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
        SET audience_resolved = 1, selected = t.known_users + t.unknown, skipped_unknown = t.unknown,
            entered = r.entered + t.entered, skipped_already = r.skipped_already + t.known_users - t.entered,
            status = 'done', finished_at = ${now}, lease_owner = NULL, lease_expires_at = NULL
        FROM tallied t WHERE r.id = t.id
      ), point_counters AS (${pointCounterUpsert(
        ['entered'],
        sql`SELECT journey_id, point_uuid, sum(entered) FROM tallied
            GROUP BY journey_id, point_uuid HAVING sum(entered) > 0`,
      )})
      SELECT id, entered, set_config('synchronous_commit', 'off', true) FROM tallied`.execute(trx);
    return new Map(rows.map((row) => [Number(row.id), Number(row.entered)]));
  }

  private async enterSmallOne(
    trx: Transaction<Database>,
    request: ClaimedEntryRequest,
    allowReenter: boolean,
    terms: LeaseTerms,
  ): Promise<SmallEntryOutcome> {
    const entry = stagedRequest(request);
    const audience = { kind: request.selectorKind === 'users' ? 'users' : 'hwids', idCount: request.idCount } as const;
    const staged = await this.stageNow(trx, entry, audience, terms);
    if (staged.kind === 'lease-lost') return staged;
    const batchSize = Math.max(1, request.idCount);
    const batch = await this.enterNextBatch(trx, entry, { ...terms, allowReenter, batchSize });
    if (batch.kind !== 'entered') return batch;
    await this.markDone(trx, entry, terms.now);
    return { kind: 'done', entered: batch.entered };
  }

  stage(entry: StagedEntry, audience: StageAudience, terms: LeaseTerms): Promise<ResolveOutcome> {
    return this.db.transaction().execute((trx) => this.stageNow(trx, entry, audience, terms));
  }

  /** Stages the audience unless that is done already. */
  private async stageNow(
    trx: Transaction<Database>,
    entry: StagedEntry,
    audience: StageAudience,
    { now, leaseMs }: LeaseTerms,
  ): Promise<ResolveOutcome> {
    const lease = await this.holdLease(trx, entry);
    if (!lease) return { kind: 'lease-lost' };
    if (isSet(lease.audience_resolved)) return { kind: 'resolved', selected: Number(lease.selected) };
    let staged: number;
    let unknown = 0;
    if (audience.kind === 'filter') {
      // userIds is a SELECT DISTINCT: each user is staged once.
      const { rows } = await sql<{ staged: number }>`
        WITH staged AS (${stageChunks(entry, audience.userIds)})
        SELECT COALESCE(sum(n), 0) AS staged FROM staged`.execute(trx);
      staged = Number(rows[0]?.staged ?? 0);
    } else {
      const column = sql.ref(`d.${audience.kind === 'users' ? 'user_id' : 'hwid'}`);
      const { rows } = await sql<{ staged: number; known: number; requested: number }>`
        WITH requested AS (
          SELECT jsonb_array_elements_text(selector::jsonb) AS id FROM entry_requests WHERE id = ${entry.id}
        ), known AS (
          SELECT d.user_id FROM devices d
          WHERE d.application_id = ${entry.applicationId} AND ${column} IN (SELECT id FROM requested)
        ), staged AS (${stageChunks(entry, sql`SELECT DISTINCT user_id FROM known`)})
        SELECT (SELECT COALESCE(sum(n), 0) FROM staged) AS staged, (SELECT count(*) FROM known) AS known,
               (SELECT count(*) FROM requested) AS requested`.execute(trx);
      const counts = rows[0] as { staged: number; known: number; requested: number };
      staged = Number(counts.staged);
      // For users a known id is a staged user; several hwids of one user stage that user once.
      unknown = Number(counts.requested) - (audience.kind === 'users' ? staged : Number(counts.known));
    }
    const selected = staged + unknown;
    await sql`
      UPDATE ${sql.table(PROGRESS_TABLE[entry.source])}
      SET audience_resolved = 1, selected = ${selected}, skipped_unknown = ${unknown},
          lease_expires_at = ${now + leaseMs}
      WHERE id = ${entry.id}`.execute(trx);
    return { kind: 'resolved', selected };
  }

  enterBatch(entry: StagedEntry, terms: StageBatchTerms): Promise<StageBatchOutcome> {
    return this.db.transaction().execute((trx) => this.enterNextBatch(trx, entry, terms));
  }

  /**
   * Enters the staged users numbered after those already taken (`entered +
   * skipped_already`, kept in the same transaction), so a batch reads a range
   * of the stage's key and deletes nothing; the stage goes when the entry
   * ends. The commit does not wait for its WAL flush: should Postgres lose
   * it in a crash, it loses the runs and the progress together, and the next
   * batch enters those users again.
   */
  private async enterNextBatch(trx: Transaction<Database>, entry: StagedEntry, terms: StageBatchTerms): Promise<StageBatchOutcome> {
    const lease = await this.holdLease(trx, entry);
    if (!lease) return { kind: 'lease-lost' };
    const journey = (await this.lockJourneys(trx, [entry.journeyId])).get(entry.journeyId);
    const status = journey?.status ?? 'STATUS_ARCHIVED';
    if (!journey || status !== 'STATUS_RUNNING') return { kind: 'journey-not-running', status };
    const allowReenter = terms.allowReenter ?? (JSON.parse(journey.params) as JourneyParams).allow_reenter === true;

    const takenBefore = Number(lease.entered) + Number(lease.skipped_already);
    const staged = Number(lease.selected) - Number(lease.skipped_unknown);
    const [from, to] = [takenBefore, takenBefore + terms.batchSize];
    const { rows } = await sql<{ taken: number; entered: number; last: string | null }>`
      WITH batch AS (
        SELECT x.user_id FROM entry_stage_chunks c CROSS JOIN LATERAL unnest(c.user_ids) WITH ORDINALITY AS x(user_id, k)
        WHERE c.source = ${SOURCE_CODE[entry.source]} AND c.source_id = ${entry.id}
          AND c.first_seq > ${from - STAGE_CHUNK_SIZE} AND c.first_seq <= ${to}
          AND c.first_seq + x.k - 1 > ${from} AND c.first_seq + x.k - 1 <= ${to}
      ), entered AS (${insertRuns(
        sql`SELECT ${entry.journeyId}::bigint AS journey_id, ${entry.applicationId}::bigint AS application_id,
                   b.user_id, ${entry.pointUuid}::text AS point_uuid, ${entry.attributes}::text AS attributes,
                   ${entry.source === 'request' ? entry.id : null}::bigint AS entry_request_id
            FROM batch b`,
        terms.now,
        { allowReenter, ordered: false },
      )}), counts AS (
        SELECT (SELECT count(*) FROM batch) AS taken, (SELECT count(*) FROM entered) AS entered,
               (SELECT max(user_id) FROM batch) AS last
      ), progress AS (
        UPDATE ${sql.table(PROGRESS_TABLE[entry.source])} r
        SET entered = r.entered + counts.entered, skipped_already = r.skipped_already + counts.taken - counts.entered,
            lease_expires_at = ${terms.now + terms.leaseMs}
        FROM counts WHERE r.id = ${entry.id}
      ), point_counter AS (${pointCounterUpsert(
        ['entered'],
        sql`SELECT ${entry.journeyId}, ${entry.pointUuid}, counts.entered FROM counts WHERE counts.entered > 0`,
      )})
      SELECT taken, entered, last, set_config('synchronous_commit', 'off', true) FROM counts`.execute(trx);
    const counts = rows[0] as { taken: number; entered: number; last: string | null };
    const taken = Number(counts.taken);
    const entered = Number(counts.entered);
    if (taken === 0 && takenBefore < staged) {
      // Would be taken again and again: fail the attempt instead (the worker retries, then fails the entry).
      throw new Error(`the stage of ${entry.label} has no user numbered after ${takenBefore} of ${staged}`);
    }
    if (entered > 0) await this.runWake.announce(trx);
    faultPoint('entry.batch.before-commit');
    return { kind: 'entered', taken, entered, remaining: takenBefore + taken < staged, last: counts.last ?? undefined };
  }

  finish(entry: StagedEntry, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await this.holdLease(trx, entry))) return false;
      await this.markDone(trx, entry, now);
      return true;
    });
  }

  private async markDone(trx: Transaction<Database>, entry: StagedEntry, now: number): Promise<void> {
    await this.dropStages(trx, entry.source, [entry.id]);
    await sql`
      UPDATE ${sql.table(PROGRESS_TABLE[entry.source])}
      SET status = 'done', finished_at = ${now}, lease_owner = NULL, lease_expires_at = NULL
      WHERE id = ${entry.id}`.execute(trx);
  }

  fail(entry: StagedEntry, error: string, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await this.holdLease(trx, entry))) return false;
      await this.dropStages(trx, entry.source, [entry.id]);
      await sql`
        UPDATE ${sql.table(PROGRESS_TABLE[entry.source])}
        SET status = 'failed', error = ${error}, finished_at = ${now}, lease_owner = NULL, lease_expires_at = NULL
        WHERE id = ${entry.id}`.execute(trx);
      return true;
    });
  }

  async release(entry: StagedEntry): Promise<void> {
    await sql`
      UPDATE ${sql.table(PROGRESS_TABLE[entry.source])}
      SET status = ${CLAIMABLE_STATUS[entry.source]}, lease_owner = NULL, lease_expires_at = NULL
      WHERE id = ${entry.id} AND status = 'processing' AND lease_owner = ${entry.owner}`.execute(this.db);
  }

  async dropStages(executor: Kysely<Database>, source: EntrySource, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await executor.deleteFrom('entry_stage_chunks').where('source', '=', SOURCE_CODE[source]).where('source_id', 'in', ids).execute();
  }
}

type HeldLease = Pick<
  Selectable<Database['entry_requests']>,
  'audience_resolved' | 'selected' | 'skipped_unknown' | 'entered' | 'skipped_already'
>;

interface LockedJourney {
  readonly status: JourneyStatus;
  /** JSON of the journey's params. */
  readonly params: string;
}
