import { CompiledQuery, sql, type Kysely } from 'kysely';
import { faultPoint } from '../../fault-points.js';
import type { Backend } from '../backend.js';
import { CLAIMABLE_STATUS, PROGRESS_TABLE, SOURCE_CODE } from './sources.js';
import {
  RATE_LIMIT_WINDOW_MS,
  stagedRequest,
  storedSelectorColumns,
  type AcceptOutcome,
  type ClaimedEntryRequest,
  type ClaimOutcome,
  type EnterAtClaim,
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
import type { Database, EntryStageSource, JourneyStatus } from '../schema.js';
import { isSet } from '../sql/flag.js';
import { pointCounterUpsert } from '../statistics/point-counters.js';
import type { Wake } from '../wake.js';
import { SqliteStatements } from '../sql/sqlite-statements.js';
import { toClaimedRequest, type ClaimRow } from './claim-row.js';

type SqliteBackend = Extract<Backend, { dialect: 'sqlite' }>;

/**
 * Entry on SQLite: each step is one synchronous IMMEDIATE transaction on the
 * raw handle with cached prepared statements. It runs while holding Kysely's
 * connection, so no Kysely transaction can be open on the shared connection
 * at the same time. One writer at a time makes the rate-limit gate and the
 * active-run check race-free, within a process and across processes.
 */
export class SqliteEntryStatements implements EntryStatements {
  private readonly statements: SqliteStatements;
  /** Adds to one point's `entered` counter: parameters journey id, point uuid, runs entered. */
  private readonly addEnteredSql: string;
  private pendingAccepts: PendingAccept[] = [];

  constructor(
    private readonly backend: SqliteBackend,
    private readonly runWake: Wake,
  ) {
    this.statements = new SqliteStatements(backend.raw);
    this.addEnteredSql = pointCounterUpsert(['entered'], sql.raw('VALUES (?, ?, ?)')).compile(backend.db).sql;
  }

  /**
   * Group commit: acceptances that arrive in the same turn of the event loop
   * share one IMMEDIATE transaction. Every caller still hears back only after
   * the commit, and the gate is checked per request in arrival order. Should
   * the shared transaction throw, nothing of it committed and each request is
   * retried in a transaction of its own, so one failing leaves the others
   * standing (a savepoint per request cost about 15 µs each).
   */
  accept(uuid: string, input: EntryRequestInput, now: number): Promise<AcceptOutcome> {
    return new Promise((resolve, reject) => {
      this.pendingAccepts.push({ uuid, input, now, resolve, reject });
      if (this.pendingAccepts.length === 1) setImmediate(() => void this.commitPendingAccepts());
    });
  }

  private async commitPendingAccepts(): Promise<void> {
    const batch = this.pendingAccepts;
    this.pendingAccepts = [];
    let outcomes: AcceptOutcome[];
    try {
      outcomes = await this.transaction(() => batch.map((item) => this.acceptOne(item)));
    } catch (error) {
      if (batch.length === 1) return (batch[0] as PendingAccept).reject(error);
      for (const item of batch) {
        try {
          item.resolve(await this.transaction(() => this.acceptOne(item)));
        } catch (alone) {
          item.reject(alone);
        }
      }
      return;
    }
    outcomes.forEach((outcome, i) => (batch[i] as PendingAccept).resolve(outcome));
  }

  private acceptOne({ uuid, input, now }: PendingAccept): AcceptOutcome {
    const gate = this.statements
      .prepare(
        `INSERT INTO entry_rate_limits (journey_id, point_uuid, last_accepted_at) VALUES (?, ?, ?)
       ON CONFLICT (journey_id, point_uuid) DO UPDATE SET last_accepted_at = excluded.last_accepted_at
       WHERE entry_rate_limits.last_accepted_at <= excluded.last_accepted_at - ${RATE_LIMIT_WINDOW_MS}`,
      )
      .run(input.journeyId, input.pointUuid, now);
    if (gate.changes === 0) {
      const last = this.statements
        .prepare(`SELECT last_accepted_at FROM entry_rate_limits WHERE journey_id = ? AND point_uuid = ?`)
        .get(input.journeyId, input.pointUuid) as { last_accepted_at: number };
      return { accepted: false, retryAfterMs: last.last_accepted_at + RATE_LIMIT_WINDOW_MS - now };
    }
    const { selector, idCount } = storedSelectorColumns(input.selector);
    this.statements
      .prepare(
        `INSERT INTO entry_requests
         (uuid, journey_id, application_id, point_uuid, selector_kind, selector, id_count, attributes, status, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)`,
      )
      .run(
        uuid,
        input.journeyId,
        input.applicationId,
        input.pointUuid,
        input.selector.kind,
        selector,
        idCount,
        JSON.stringify(input.attributes),
        now,
      );
    return { accepted: true, requestUuid: uuid };
  }

  claim(owner: string, terms: LeaseTerms, limit: number): Promise<ClaimedEntryRequest[]> {
    return this.claimTransaction(terms.now, [], () => this.claimRows(owner, terms, limit));
  }

  /**
   * One transaction (and one commit, where a claim and then an entry took
   * two) for the claim and the small requests `choose` picks. The claim's
   * read of the journey is current within it, so such a request needs no
   * lease check or status read: it goes from queued to done here.
   */
  async claimAndEnter(owner: string, terms: LeaseTerms, limit: number, choose: EnterAtClaim): Promise<ClaimOutcome> {
    const outcome = await this.claimTransaction(terms.now, { claimed: [], entered: 0, runs: 0 }, () => {
      const claimed: ClaimedEntryRequest[] = [];
      const counters = new PointCounters();
      let entered = 0;
      let runs = 0;
      for (const request of this.claimRows(owner, terms, limit)) {
        const chosen = choose(request);
        if (!chosen) {
          claimed.push(request);
          continue;
        }
        const users = this.enterFromIds(request, chosen.allowReenter, terms.now);
        counters.add(request, users);
        runs += users;
        entered++;
      }
      counters.write(this);
      return { claimed, entered, runs };
    });
    if (outcome.runs > 0) await this.runWake.announce();
    return { claimed: outcome.claimed, entered: outcome.entered };
  }

  private claimRows(owner: string, { now, leaseMs }: LeaseTerms, limit: number): ClaimedEntryRequest[] {
    const rows = this.statements
      .prepare(
        `SELECT r.id, r.uuid, r.journey_id, j.uuid AS journey_uuid, r.application_id, r.point_uuid, r.selector_kind,
              CASE WHEN r.selector_kind = 'filter' THEN r.selector END AS filter,
              r.id_count, r.attributes, r.audience_resolved, r.attempts,
              j.status AS journey_status, j.params AS journey_params, j.points AS journey_points
       FROM entry_requests r JOIN journeys j ON j.id = r.journey_id
       WHERE r.status IN ('queued', 'processing')
         AND (r.status = 'queued' OR r.lease_expires_at < ?)
         AND j.status NOT IN ('STATUS_PAUSED', 'STATUS_DRAFT')
       ORDER BY r.id LIMIT ?`,
      )
      .all(now, limit) as ClaimRow[];
    if (rows.length === 0) return [];
    this.statements
      .prepare(
        `UPDATE entry_requests
       SET status = 'processing', lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1,
           started_at = COALESCE(started_at, ?)
       WHERE id IN (SELECT value FROM json_each(?))`,
      )
      .run(owner, now + leaseMs, now, JSON.stringify(rows.map((row) => row.id)));
    // Read before the claim's UPDATE counted this attempt.
    return rows.map((row) => toClaimedRequest({ ...row, attempts: row.attempts + 1 }, owner));
  }

  /**
   * A request of a running journey whose audience is not staged yet is
   * entered straight from its id list (about 5 statements instead of 13:
   * no stage rows to write, find and delete); the journey's status is read
   * once per journey and the point counters are added once per point, for
   * the whole set. Anything else takes the staged path, exactly as a large
   * request would.
   */
  async enterSmall(entries: readonly SmallEntry[], terms: LeaseTerms): Promise<SmallEntryOutcome[]> {
    const outcomes = await this.transaction(() => {
      const statuses = new Map<number, JourneyStatus>();
      const counters = new PointCounters();
      const results = entries.map(({ request, allowReenter }): SmallEntryOutcome => {
        const lease = this.holdsLease(stagedRequest(request));
        if (!lease) return { kind: 'lease-lost' };
        let status = statuses.get(request.journeyId);
        if (status === undefined) {
          status = this.journey(request.journeyId).status;
          statuses.set(request.journeyId, status);
        }
        if (isSet(lease.audience_resolved) || status !== 'STATUS_RUNNING') return this.enterSmallStaged(request, allowReenter, terms);
        const entered = this.enterFromIds(request, allowReenter, terms.now);
        counters.add(request, entered);
        return { kind: 'done', entered };
      });
      counters.write(this);
      return results;
    });
    if (outcomes.some((outcome) => outcome.kind === 'done' && outcome.entered > 0)) await this.runWake.announce();
    return outcomes;
  }

  private enterSmallStaged(request: ClaimedEntryRequest, allowReenter: boolean, terms: LeaseTerms): SmallEntryOutcome {
    const entry = stagedRequest(request);
    const audience = { kind: request.selectorKind === 'users' ? 'users' : 'hwids', idCount: request.idCount } as const;
    const staged = this.stageNow(entry, audience, undefined, terms);
    if (staged.kind === 'lease-lost') return staged;
    const batch = this.enterNextBatch(entry, { ...terms, allowReenter, batchSize: Math.max(1, request.idCount) });
    if (batch.kind !== 'entered') return batch;
    this.markDone(entry, terms.now);
    return { kind: 'done', entered: batch.entered };
  }

  /**
   * Enters a users/hwids request's distinct known users and marks it done,
   * with the same counts the staged path records: a user id is known when
   * the user has a device, an hwid when its device exists; users with an
   * active run are skipped unless the journey allows re-entry. The caller
   * holds the lease and has seen the journey running, in this transaction.
   */
  private enterFromIds(request: ClaimedEntryRequest, allowReenter: boolean, now: number): number {
    const column = request.selectorKind === 'users' ? 'user_id' : 'hwid';
    const ids = `SELECT value FROM json_each((SELECT selector FROM entry_requests WHERE id = ?))`;
    const entered = this.statements
      .prepare(
        insertRunsSql(`FROM (SELECT DISTINCT user_id FROM devices WHERE application_id = ? AND ${column} IN (${ids})) AS a WHERE 1`, {
          journeys: 'one-journey',
          skipActive: !allowReenter,
          orderByUser: true,
        }),
      )
      .run(...runValues(request, request.id, now), request.applicationId, request.id, ...(allowReenter ? [] : [request.journeyId])).changes;
    // As many users entered as there are ids: every id was known and distinct, none skipped; so the
    // usual case needs no count (an hwid's device is unique in its application).
    const known =
      entered === request.idCount
        ? { devices: entered, users: entered }
        : (this.statements
            .prepare(
              `SELECT COUNT(*) AS devices, COUNT(DISTINCT user_id) AS users
             FROM devices WHERE application_id = ? AND ${column} IN (${ids})`,
            )
            .get(request.applicationId, request.id) as { devices: number; users: number });
    const unknown = request.idCount - (request.selectorKind === 'users' ? known.users : known.devices);
    this.statements
      .prepare(
        `UPDATE entry_requests
       SET audience_resolved = 1, selected = ?, skipped_unknown = ?, entered = entered + ?,
           skipped_already = skipped_already + ?, status = 'done', finished_at = ?,
           lease_owner = NULL, lease_expires_at = NULL
       WHERE id = ?`,
      )
      .run(known.users + unknown, unknown, entered, known.users - entered, now, request.id);
    return entered;
  }

  private journey(journeyId: number): { status: JourneyStatus; params: string } {
    return this.statements.prepare(`SELECT status, params FROM journeys WHERE id = ?`).get(journeyId) as {
      status: JourneyStatus;
      params: string;
    };
  }

  addToPointCounter(journeyId: number, pointUuid: string, entered: number): void {
    this.statements.prepare(this.addEnteredSql).run(journeyId, pointUuid, entered);
  }

  async stage(entry: StagedEntry, audience: StageAudience, terms: LeaseTerms): Promise<ResolveOutcome> {
    // The filter's subquery is compiled once per entry, outside the transaction.
    const filterInsert =
      audience.kind === 'filter'
        ? sql`INSERT OR IGNORE INTO entry_stage (source, source_id, user_id)
              SELECT ${SOURCE_CODE[entry.source]}, ${entry.id}, audience.user_id FROM (${audience.userIds}) AS audience`.compile(
            this.backend.db,
          )
        : undefined;
    return this.transaction(() => this.stageNow(entry, audience, filterInsert, terms));
  }

  /** Stages the audience unless that is done already; `filterInsert` is the compiled insert of a filter audience. */
  private stageNow(
    entry: StagedEntry,
    audience: StageAudience,
    filterInsert: CompiledQuery | undefined,
    { now, leaseMs }: LeaseTerms,
  ): ResolveOutcome {
    const lease = this.holdsLease(entry);
    if (!lease) return { kind: 'lease-lost' };
    if (isSet(lease.audience_resolved)) return { kind: 'resolved', selected: lease.selected };
    let staged: number;
    let unknown = 0;
    if (filterInsert) {
      staged = this.backend.raw.prepare(filterInsert.sql).run(...filterInsert.parameters).changes;
    } else if (audience.kind !== 'filter') {
      const column = audience.kind === 'users' ? 'user_id' : 'hwid';
      const ids = `SELECT j.value FROM entry_requests r, json_each(r.selector) j WHERE r.id = ?`;
      staged = this.statements
        .prepare(
          `INSERT OR IGNORE INTO entry_stage (source, source_id, user_id)
         SELECT ?, ?, d.user_id FROM devices d WHERE d.application_id = ? AND d.${column} IN (${ids})`,
        )
        .run(SOURCE_CODE[entry.source], entry.id, entry.applicationId, entry.id).changes;
      // A user id is known when the user has a device; an hwid when its device exists. Several
      // hwids of one user stage that user once, so for hwids the known devices are counted.
      const known =
        audience.kind === 'users'
          ? staged
          : (
              this.statements
                .prepare(`SELECT COUNT(*) AS n FROM devices d WHERE d.application_id = ? AND d.hwid IN (${ids})`)
                .get(entry.applicationId, entry.id) as { n: number }
            ).n;
      unknown = audience.idCount - known;
    } else {
      throw new Error('a filter audience is staged by its compiled insert');
    }
    const selected = staged + unknown;
    this.statements
      .prepare(
        `UPDATE ${PROGRESS_TABLE[entry.source]}
       SET audience_resolved = 1, selected = ?, skipped_unknown = ?, lease_expires_at = ?
       WHERE id = ?`,
      )
      .run(selected, unknown, now + leaseMs, entry.id);
    return { kind: 'resolved', selected };
  }

  async enterBatch(entry: StagedEntry, terms: StageBatchTerms): Promise<StageBatchOutcome> {
    const outcome = await this.transaction(() => this.enterNextBatch(entry, terms));
    if (outcome.kind === 'entered' && outcome.entered > 0) await this.runWake.announce();
    return outcome;
  }

  private enterNextBatch(entry: StagedEntry, terms: StageBatchTerms): StageBatchOutcome {
    if (!this.holdsLease(entry)) return { kind: 'lease-lost' };
    const journey = this.journey(entry.journeyId);
    if (journey.status !== 'STATUS_RUNNING') return { kind: 'journey-not-running', status: journey.status };
    const allowReenter = terms.allowReenter ?? (JSON.parse(journey.params) as JourneyParams).allow_reenter === true;

    const source = SOURCE_CODE[entry.source];
    const last = this.lastUserOfNextBatch(source, entry.id, terms.batchSize);
    if (last === undefined) {
      this.renewLease(entry, terms, 0, 0);
      return { kind: 'entered', taken: 0, entered: 0, remaining: false, last: undefined };
    }
    const entered = this.statements
      .prepare(
        insertRunsSql(`FROM entry_stage a WHERE a.source = ? AND a.source_id = ? AND a.user_id <= ?`, {
          journeys: 'one-journey',
          skipActive: !allowReenter,
          orderByUser: false,
        }),
      )
      .run(
        ...runValues(entry, entry.source === 'request' ? entry.id : null, terms.now),
        source,
        entry.id,
        last,
        ...(allowReenter ? [] : [entry.journeyId]),
      ).changes;
    const taken = this.statements
      .prepare(`DELETE FROM entry_stage WHERE source = ? AND source_id = ? AND user_id <= ?`)
      .run(source, entry.id, last).changes;
    this.renewLease(entry, terms, entered, taken - entered);
    if (entered > 0) this.addToPointCounter(entry.journeyId, entry.pointUuid, entered);
    const remaining = this.statements.prepare(`SELECT 1 FROM entry_stage WHERE source = ? AND source_id = ? LIMIT 1`).get(source, entry.id);
    faultPoint('entry.batch.before-commit');
    return { kind: 'entered', taken, entered, remaining: remaining !== undefined, last };
  }

  finish(entry: StagedEntry, now: number): Promise<boolean> {
    return this.transaction(() => {
      if (!this.holdsLease(entry)) return false;
      this.markDone(entry, now);
      return true;
    });
  }

  /** Marks the entry done; its stage is empty, each batch having deleted what it took. */
  private markDone(entry: StagedEntry, now: number): void {
    this.statements
      .prepare(
        `UPDATE ${PROGRESS_TABLE[entry.source]}
       SET status = 'done', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL
       WHERE id = ?`,
      )
      .run(now, entry.id);
  }

  fail(entry: StagedEntry, error: string, now: number): Promise<boolean> {
    return this.transaction(() => {
      if (!this.holdsLease(entry)) return false;
      this.statements.prepare(`DELETE FROM entry_stage WHERE source = ? AND source_id = ?`).run(SOURCE_CODE[entry.source], entry.id);
      this.statements
        .prepare(
          `UPDATE ${PROGRESS_TABLE[entry.source]}
         SET status = 'failed', error = ?, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ?`,
        )
        .run(error, now, entry.id);
      return true;
    });
  }

  async release(entry: StagedEntry): Promise<void> {
    await this.transaction(() =>
      this.statements
        .prepare(
          `UPDATE ${PROGRESS_TABLE[entry.source]}
         SET status = '${CLAIMABLE_STATUS[entry.source]}', lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ? AND lease_owner = ? AND status = 'processing'`,
        )
        .run(entry.id, entry.owner),
    );
  }

  async dropStages(executor: Kysely<Database>, source: EntrySource, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await executor.deleteFrom('entry_stage').where('source', '=', SOURCE_CODE[source]).where('source_id', 'in', ids).execute();
  }

  /** The lease row when `entry.owner` still holds it. */
  private holdsLease(entry: StagedEntry): LeaseRow | undefined {
    return this.statements
      .prepare(
        `SELECT audience_resolved, selected FROM ${PROGRESS_TABLE[entry.source]}
       WHERE id = ? AND status = 'processing' AND lease_owner = ?`,
      )
      .get(entry.id, entry.owner) as LeaseRow | undefined;
  }

  private renewLease(entry: StagedEntry, { now, leaseMs }: LeaseTerms, entered: number, skipped: number) {
    this.statements
      .prepare(
        `UPDATE ${PROGRESS_TABLE[entry.source]}
       SET entered = entered + ?, skipped_already = skipped_already + ?, lease_expires_at = ?
       WHERE id = ?`,
      )
      .run(entered, skipped, now + leaseMs, entry.id);
  }

  /** The greatest user id among the next `size` staged users, or undefined when none is left. */
  private lastUserOfNextBatch(source: EntryStageSource, id: number, size: number): string | undefined {
    const nth = this.statements
      .prepare(`SELECT user_id FROM entry_stage WHERE source = ? AND source_id = ? ORDER BY user_id LIMIT 1 OFFSET ?`)
      .get(source, id, size - 1) as { user_id: string } | undefined;
    if (nth) return nth.user_id;
    const max = this.statements
      .prepare(`SELECT MAX(user_id) AS user_id FROM entry_stage WHERE source = ? AND source_id = ?`)
      .get(source, id) as {
      user_id: string | null;
    };
    return max.user_id ?? undefined;
  }

  /**
   * A worker is woken by every acceptance, and often finds that an earlier
   * claim took the request already: a plain read of whether anything is
   * claimable answers that without taking the write lock and committing an
   * empty transaction. The claim itself re-reads inside the transaction.
   */
  private claimTransaction<T>(now: number, nothing: T, body: () => T): Promise<T> {
    return this.backend.db.connection().execute(async () => {
      const claimable = this.statements
        .prepare(
          `SELECT 1 FROM entry_requests r JOIN journeys j ON j.id = r.journey_id
         WHERE r.status IN ('queued', 'processing')
           AND (r.status = 'queued' OR r.lease_expires_at < ?)
           AND j.status NOT IN ('STATUS_PAUSED', 'STATUS_DRAFT')
         LIMIT 1`,
        )
        .get(now);
      return claimable === undefined ? nothing : this.backend.raw.transaction(body).immediate();
    });
  }

  private transaction<T>(body: () => T): Promise<T> {
    return this.backend.db.connection().execute(async () => this.backend.raw.transaction(body).immediate());
  }
}

/**
 * The one statement that inserts entered runs on SQLite, for every entry
 * path (a small request's ids, a staged batch of a request or a segment, an
 * event): `users` is its `FROM … WHERE …`, naming each user `a.user_id`. A
 * run starts `active` at the entry point, due now. The journey and its entry
 * point are, for `one-journey`, leading parameters, and for `per-row`
 * columns `a.journey_id` and `a.point_uuid` of `users`. The parameters are
 * `runValues` (or `perRowRunValues`), then those of `users`, then, when
 * users with an active run of a `one-journey` entry are skipped, the
 * journey's id. `orderByUser` inserts in user-id order, so the runs extend
 * runs_active_by_user at its end (a stage is read in that order already).
 */
function insertRunsSql(
  users: string,
  { journeys, skipActive, orderByUser }: { journeys: 'one-journey' | 'per-row'; skipActive: boolean; orderByUser: boolean },
): string {
  const [journeyId, pointUuid] = journeys === 'one-journey' ? ['?', '?'] : ['a.journey_id', 'a.point_uuid'];
  // Literal 'active' so that SQLite can use the partial index runs_active_by_user.
  const notAlreadyActive = `AND NOT EXISTS (
    SELECT 1 FROM runs r WHERE r.journey_id = ${journeyId} AND r.user_id = a.user_id AND r.state = 'active')`;
  return `INSERT INTO runs (journey_id, application_id, user_id, point_uuid, state, due_at, attributes,
                     entry_request_id, entered_at, updated_at)
   SELECT ${journeyId}, ?, a.user_id, ${pointUuid}, 'active', ?, ?, ?, ?, ?
   ${users}
   ${skipActive ? notAlreadyActive : ''}
   ${orderByUser ? 'ORDER BY a.user_id' : ''}`;
}

/** The leading parameters of a `one-journey` `insertRunsSql`. */
function runValues(
  entry: Pick<StagedEntry, 'journeyId' | 'applicationId' | 'pointUuid' | 'attributes'>,
  entryRequestId: number | null,
  now: number,
): unknown[] {
  return [entry.journeyId, entry.applicationId, entry.pointUuid, now, entry.attributes, entryRequestId, now, now];
}

/** The leading parameters of a `per-row` `insertRunsSql`. */
function perRowRunValues(entry: Pick<StagedEntry, 'applicationId' | 'attributes'>, entryRequestId: number | null, now: number): unknown[] {
  return [entry.applicationId, now, entry.attributes, entryRequestId, now, now];
}

/** Event entry's run insert on SQLite: one user into several journeys, in one statement. */
export function insertUserIntoJourneys(entry: UserIntoJourneys): CompiledQuery {
  const points = entry.points.map(() => '(?, ?)').join(', ');
  const users = `FROM (SELECT column1 AS journey_id, column2 AS point_uuid, ? AS user_id FROM (VALUES ${points})) AS a`;
  return CompiledQuery.raw(insertRunsSql(users, { journeys: 'per-row', skipActive: false, orderByUser: false }), [
    ...perRowRunValues(entry, null, entry.now),
    entry.userId,
    ...entry.points.flatMap(({ journeyId, pointUuid }) => [journeyId, pointUuid]),
  ]);
}

/** Runs entered per entry point, added to journey_point_counters once per point for a whole set of requests. */
class PointCounters {
  private readonly byPoint = new Map<string, { journeyId: number; pointUuid: string; entered: number }>();

  add(request: ClaimedEntryRequest, entered: number): void {
    if (entered === 0) return;
    const key = `${request.journeyId}:${request.pointUuid}`;
    const counter = this.byPoint.get(key) ?? { journeyId: request.journeyId, pointUuid: request.pointUuid, entered: 0 };
    counter.entered += entered;
    this.byPoint.set(key, counter);
  }

  write(statements: SqliteEntryStatements): void {
    for (const { journeyId, pointUuid, entered } of this.byPoint.values()) {
      statements.addToPointCounter(journeyId, pointUuid, entered);
    }
  }
}

interface PendingAccept {
  readonly uuid: string;
  readonly input: EntryRequestInput;
  readonly now: number;
  resolve(outcome: AcceptOutcome): void;
  reject(error: unknown): void;
}

interface LeaseRow {
  audience_resolved: number;
  selected: number;
}
