import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Backend } from '../backend.js';
import { ENTRY_CHANNEL, Wake } from '../wake.js';
import { entryStatements } from './statements.js';
import {
  stagedRequest,
  type AcceptOutcome,
  type AudienceQuery,
  type BatchOutcome,
  type BatchTerms,
  type ClaimedEntryRequest,
  type ClaimOutcome,
  type EnterAtClaim,
  type EntryRequestInput,
  type EntryRequestView,
  type EntryStatements,
  type LeaseTerms,
  type ResolveOutcome,
  type SmallEntry,
  type SmallEntryOutcome,
  type StageAudience,
} from './types.js';

export * from './types.js';

/**
 * Start-by-API entry: accepting requests behind the one-per-minute gate,
 * and the steps the entry worker takes to turn one request into runs. Each
 * step is one transaction; every step after the claim is fenced by the
 * worker's lease, so a worker that lost its lease writes nothing.
 */
export class EntryStore {
  private readonly statements: EntryStatements;
  private readonly acceptances = new EventEmitter();
  /** Postgres: the acceptances of every process, notified by the accept statement itself. */
  private readonly otherProcesses: Wake;

  /** `runWake` is announced whenever entered runs commit, so that schedulers execute them at once. */
  constructor(
    private readonly backend: Backend,
    runWake: Wake,
  ) {
    this.statements = entryStatements(backend, runWake);
    this.otherProcesses = new Wake(backend, ENTRY_CHANNEL);
  }

  /**
   * The rate-limit gate and the durable insert, atomically: the request is
   * stored only if no request for this entry point was accepted in the last
   * minute, and when this resolves `accepted` it is committed.
   */
  async accept(input: EntryRequestInput, now = Date.now()): Promise<AcceptOutcome> {
    const outcome = await this.statements.accept(randomUUID(), input, now);
    if (outcome.accepted) this.acceptances.emit('accepted');
    return outcome;
  }

  async findRequest(journeyId: number, uuid: string): Promise<EntryRequestView | undefined> {
    const row = await this.backend.db
      .selectFrom('entry_requests')
      .select(['uuid', 'status', 'selected', 'entered', 'skipped_unknown', 'skipped_already', 'created_at', 'finished_at', 'error'])
      .where('journey_id', '=', journeyId)
      .where('uuid', '=', uuid)
      .executeTakeFirst();
    return (
      row && {
        uuid: row.uuid,
        status: row.status,
        selected: Number(row.selected),
        entered: Number(row.entered),
        skippedUnknown: Number(row.skipped_unknown),
        skippedAlready: Number(row.skipped_already),
        createdAt: Number(row.created_at),
        finishedAt: row.finished_at === null ? null : Number(row.finished_at),
        error: row.error,
      }
    );
  }

  /**
   * Takes up to `limit` of the oldest requests that are queued, or processing
   * under an expired lease, of journeys that are not paused or in draft (those
   * wait until the journey runs again), oldest first.
   */
  claim(owner: string, terms: LeaseTerms, limit: number): Promise<ClaimedEntryRequest[]> {
    return this.statements.claim(owner, terms, limit);
  }

  /**
   * `claim`, and where the dialect can (SQLite), the requests `choose` picks
   * are entered and finished in the same transaction, which sees the
   * journey as claimed: neither a lease nor the journey's status can change
   * in between. Elsewhere every claimed request is returned.
   */
  async claimAndEnter(owner: string, terms: LeaseTerms, limit: number, choose: EnterAtClaim): Promise<ClaimOutcome> {
    if (this.statements.claimAndEnter) return this.statements.claimAndEnter(owner, terms, limit, choose);
    return { claimed: await this.statements.claim(owner, terms, limit), entered: 0 };
  }

  /**
   * Stages, enters and finishes many small requests in ONE transaction: the
   * set-at-a-time path for the common case of a few ids per request. Each
   * request is checked (lease, journey running) on its own; the outcomes are
   * in the order given.
   */
  enterSmall(entries: readonly SmallEntry[], terms: LeaseTerms): Promise<SmallEntryOutcome[]> {
    return entries.length === 0 ? Promise.resolve([]) : this.statements.enterSmall(entries, terms);
  }

  /** Stages the de-duplicated users of the request's audience and sets `selected` and `skipped.unknown`. */
  resolveAudience(request: ClaimedEntryRequest, audience: AudienceQuery, terms: LeaseTerms): Promise<ResolveOutcome> {
    const staged: StageAudience = audience.kind === 'filter' ? audience : { kind: audience.kind, idCount: request.idCount };
    return this.statements.stage(stagedRequest(request), staged, terms);
  }

  /**
   * Enters the next `batchSize` staged users (by user id) at the entry point in
   * one transaction: inserts their runs, removes them from the stage, adds to
   * the request's and the point's counters and renews the lease. A user leaves
   * the stage in the same transaction that enters (or skips) them, so a retried
   * request enters each user once.
   */
  async enterBatch(request: ClaimedEntryRequest, terms: BatchTerms): Promise<BatchOutcome> {
    const outcome = await this.statements.enterBatch(stagedRequest(request), terms);
    if (outcome.kind !== 'entered') return outcome;
    const { taken, entered, remaining } = outcome;
    return { kind: 'entered', taken, entered, remaining };
  }

  /** Marks the request done; false when the lease was lost. */
  finish(request: ClaimedEntryRequest, now = Date.now()): Promise<boolean> {
    return this.statements.finish(stagedRequest(request), now);
  }

  /** Marks the request failed with a reason and drops what is left of its stage; false when the lease was lost. */
  fail(request: ClaimedEntryRequest, error: string, now = Date.now()): Promise<boolean> {
    return this.statements.fail(stagedRequest(request), error, now);
  }

  /** Gives the request back to the queue at once, keeping its progress (worker stopping, journey paused). */
  release(request: ClaimedEntryRequest): Promise<void> {
    return this.statements.release(stagedRequest(request));
  }

  /**
   * Calls `onWake` whenever a request is accepted: by this process directly,
   * and on Postgres by any process through LISTEN/NOTIFY (`onLost` hears of
   * a lost LISTEN connection, which reconnects by itself). Resolves to a
   * function that stops listening.
   */
  async watchAcceptances(onWake: () => void, onLost?: (error: Error) => void): Promise<() => Promise<void>> {
    this.acceptances.on('accepted', onWake);
    let unlisten: () => Promise<void> = async () => {};
    try {
      if (this.backend.dialect === 'postgres') unlisten = await this.otherProcesses.listen(onWake, onLost);
    } catch (error) {
      this.acceptances.off('accepted', onWake);
      throw error;
    }
    return async () => {
      this.acceptances.off('accepted', onWake);
      await unlisten();
    };
  }
}
