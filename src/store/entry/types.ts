import type { Kysely, RawBuilder } from 'kysely';
import type { JourneyParams, Point } from '../../domain/journey.js';
import type { Database, EntryRequestStatus, EntrySelectorKind, JourneyStatus } from '../schema.js';

/**
 * The contract of staged entry: what the facades (index.ts for Start by API,
 * segments.ts for entry by segment) offer, and what each dialect (sqlite.ts,
 * postgres.ts) implements once for both.
 */

/** One accepted request per entry point per this window (docs/start-by-api.md, check 10). */
export const RATE_LIMIT_WINDOW_MS = 60_000;

export type StoredSelector =
  { readonly kind: 'users' | 'hwids'; readonly ids: readonly string[] } | { readonly kind: 'filter'; readonly filter: string };

/** The columns a selector is stored in: the filter's text or the ids' JSON, and how many ids (0 for a filter). */
export function storedSelectorColumns(selector: StoredSelector): { readonly selector: string; readonly idCount: number } {
  return selector.kind === 'filter'
    ? { selector: selector.filter, idCount: 0 }
    : { selector: JSON.stringify(selector.ids), idCount: selector.ids.length };
}

export interface EntryRequestInput {
  readonly journeyId: number;
  readonly applicationId: number;
  readonly pointUuid: string;
  readonly selector: StoredSelector;
  /** The attribute values every run of this request starts with (defaults already merged). */
  readonly attributes: Readonly<Record<string, string>>;
}

export type AcceptOutcome =
  { readonly accepted: true; readonly requestUuid: string } | { readonly accepted: false; readonly retryAfterMs: number };

/** What the status endpoint shows. */
export interface EntryRequestView {
  readonly uuid: string;
  readonly status: EntryRequestStatus;
  readonly selected: number;
  readonly entered: number;
  readonly skippedUnknown: number;
  readonly skippedAlready: number;
  readonly createdAt: number;
  readonly finishedAt: number | null;
  readonly error: string | null;
}

/** A request a worker holds under a lease. */
export interface ClaimedEntryRequest {
  readonly id: number;
  readonly uuid: string;
  readonly journeyId: number;
  readonly journeyUuid: string;
  readonly applicationId: number;
  readonly pointUuid: string;
  readonly selectorKind: EntrySelectorKind;
  /** How many ids a users/hwids request names; 0 for a filter. */
  readonly idCount: number;
  /** The filter text for a filter selector; ids stay in the database. */
  readonly filter: string | null;
  /** JSON object every run starts with. */
  readonly attributes: string;
  readonly audienceResolved: boolean;
  /** Claims so far, this one included. */
  readonly attempts: number;
  readonly owner: string;
  /** The journey as it was at the claim; every write re-checks its status under a lock. */
  readonly journey: ClaimedJourney;
}

export interface ClaimedJourney {
  readonly status: JourneyStatus;
  readonly params: JourneyParams;
  readonly points: readonly Point[];
}

/** How to find the request's audience: stored ids, or the compiled filter's `SELECT DISTINCT user_id` subquery. */
export type AudienceQuery =
  { readonly kind: 'users' | 'hwids' } | { readonly kind: 'filter'; readonly userIds: RawBuilder<{ user_id: string }> };

export interface LeaseTerms {
  readonly now: number;
  readonly leaseMs: number;
}

export interface BatchTerms extends LeaseTerms {
  readonly batchSize: number;
  /** The journey's `allow_reenter`: when false, users with an active run are skipped. */
  readonly allowReenter: boolean;
}

export type LeaseLost = { readonly kind: 'lease-lost' };

export type ResolveOutcome = { readonly kind: 'resolved'; readonly selected: number } | LeaseLost;

export type BatchOutcome =
  | { readonly kind: 'entered'; readonly taken: number; readonly entered: number; readonly remaining: boolean }
  | { readonly kind: 'journey-not-running'; readonly status: JourneyStatus }
  | LeaseLost;

/** A request small enough (ids at most one batch) to be staged, entered and finished in one go. */
export interface SmallEntry {
  readonly request: ClaimedEntryRequest;
  readonly allowReenter: boolean;
}

export type SmallEntryOutcome =
  | { readonly kind: 'done'; readonly entered: number }
  | { readonly kind: 'journey-not-running'; readonly status: JourneyStatus }
  | LeaseLost;

/**
 * Called for each request as it is claimed: the `allowReenter` to enter it
 * with, in the claim's own transaction, or undefined to leave it claimed.
 */
export type EnterAtClaim = (request: ClaimedEntryRequest) => { readonly allowReenter: boolean } | undefined;

export interface ClaimOutcome {
  /** The requests claimed and not entered: the worker holds their leases. */
  readonly claimed: readonly ClaimedEntryRequest[];
  /** How many requests were claimed and entered (and are done) at once. */
  readonly entered: number;
}

/** Whose audience a stage holds; each source keeps its progress in its own table. */
export type EntrySource = 'request' | 'segment';

/** A Start-by-API request or a segment entry as its stage sees it, held under `owner`'s lease. */
export interface StagedEntry {
  readonly source: EntrySource;
  readonly id: number;
  readonly owner: string;
  readonly journeyId: number;
  readonly applicationId: number;
  readonly pointUuid: string;
  /** JSON object every run starts with. */
  readonly attributes: string;
  /** Names the entry in an error. */
  readonly label: string;
}

/** The audience to stage: a request's stored ids (how many it names), or a compiled filter's distinct users. */
export type StageAudience =
  | { readonly kind: 'users' | 'hwids'; readonly idCount: number }
  | { readonly kind: 'filter'; readonly userIds: RawBuilder<{ user_id: string }> };

export interface StageBatchTerms extends LeaseTerms {
  readonly batchSize: number;
  /**
   * When false, users with an active run are skipped. A request enters with
   * its journey as claimed; a segment entry leaves it undefined and follows
   * the journey's `allow_reenter` as the batch's transaction reads it.
   */
  readonly allowReenter: boolean | undefined;
}

export type StageBatchOutcome =
  | {
      readonly kind: 'entered';
      readonly taken: number;
      readonly entered: number;
      readonly remaining: boolean;
      /** The greatest user id the batch took; undefined when it took none. */
      readonly last: string | undefined;
    }
  | { readonly kind: 'journey-not-running'; readonly status: JourneyStatus }
  | LeaseLost;

/**
 * The stage, per dialect: every step one transaction fenced by the entry's
 * lease, so a worker that lost its lease writes nothing.
 */
export interface StageStatements {
  /** Stages the audience unless that is done already, and sets `selected` and `skipped_unknown`. */
  stage(entry: StagedEntry, audience: StageAudience, terms: LeaseTerms): Promise<ResolveOutcome>;
  /** Enters the next `batchSize` staged users, by user id, and renews the lease. */
  enterBatch(entry: StagedEntry, terms: StageBatchTerms): Promise<StageBatchOutcome>;
  /** Marks the entry done and drops its stage; false when the lease was lost. */
  finish(entry: StagedEntry, now: number): Promise<boolean>;
  /** Marks the entry failed with a reason and drops its stage; false when the lease was lost. */
  fail(entry: StagedEntry, error: string, now: number): Promise<boolean>;
  /** Gives the entry back to be claimed again at once, keeping its progress. */
  release(entry: StagedEntry): Promise<void>;
  /** Drops the stages of these entries through `executor` (a lifecycle transition's transaction). */
  dropStages(executor: Kysely<Database>, source: EntrySource, ids: readonly number[]): Promise<void>;
}

/** The per-dialect statements of Start by API that are not the stage's. */
export interface RequestStatements {
  accept(uuid: string, input: EntryRequestInput, now: number): Promise<AcceptOutcome>;
  claim(owner: string, terms: LeaseTerms, limit: number): Promise<ClaimedEntryRequest[]>;
  /** SQLite: `claim` and the chosen requests' `enterSmall` in one transaction. */
  claimAndEnter?(owner: string, terms: LeaseTerms, limit: number, choose: EnterAtClaim): Promise<ClaimOutcome>;
  enterSmall(entries: readonly SmallEntry[], terms: LeaseTerms): Promise<SmallEntryOutcome[]>;
}

/**
 * One user entered into several journeys at once, each at its entry point,
 * as an event enters its user. The caller has already left out the journeys
 * where the user may not re-enter, so no active run is checked for.
 */
export interface UserIntoJourneys {
  readonly applicationId: number;
  readonly userId: string;
  /** JSON of the runs' attributes. */
  readonly attributes: string;
  readonly now: number;
  readonly points: readonly { readonly journeyId: number; readonly pointUuid: string }[];
}

/** Everything one dialect implements. */
export type EntryStatements = StageStatements & RequestStatements;

/** The stage's view of a claimed request. */
export function stagedRequest(request: ClaimedEntryRequest): StagedEntry {
  return {
    source: 'request',
    id: request.id,
    owner: request.owner,
    journeyId: request.journeyId,
    applicationId: request.applicationId,
    pointUuid: request.pointUuid,
    attributes: request.attributes,
    label: `request ${request.uuid}`,
  };
}
