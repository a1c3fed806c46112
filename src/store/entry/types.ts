import type { RawBuilder } from 'kysely';
import type { JourneyParams, Point } from '../../domain/journey.js';
import type { EntryRequestStatus, EntrySelectorKind, JourneyStatus } from '../schema.js';

/**
 * The contract of Start-by-API entry: what the facade (index.ts) offers and
 * what each dialect (sqlite.ts, postgres.ts) implements.
 */

/** One accepted request per entry point per this window (CONTRACT §5 check 10). */
export const RATE_LIMIT_WINDOW_MS = 60_000;

export type StoredSelector =
  | { readonly kind: 'users' | 'hwids'; readonly ids: readonly string[] }
  | { readonly kind: 'filter'; readonly filter: string };

export interface EntryRequestInput {
  readonly journeyId: number;
  readonly applicationId: number;
  readonly pointUuid: string;
  readonly selector: StoredSelector;
  /** The attribute values every run of this request starts with (defaults already merged). */
  readonly attributes: Readonly<Record<string, string>>;
}

export type AcceptOutcome =
  | { readonly accepted: true; readonly requestUuid: string }
  | { readonly accepted: false; readonly retryAfterMs: number };

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
  | { readonly kind: 'users' | 'hwids' }
  | { readonly kind: 'filter'; readonly userIds: RawBuilder<{ user_id: string }> };

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

/** The per-dialect statements behind EntryStore. */
export interface EntryStatements {
  accept(uuid: string, input: EntryRequestInput, now: number): Promise<AcceptOutcome>;
  claim(owner: string, terms: LeaseTerms, limit: number): Promise<ClaimedEntryRequest[]>;
  /** SQLite: `claim` and the chosen requests' `enterSmall` in one transaction. */
  claimAndEnter?(owner: string, terms: LeaseTerms, limit: number, choose: EnterAtClaim): Promise<ClaimOutcome>;
  enterSmall(entries: readonly SmallEntry[], terms: LeaseTerms): Promise<SmallEntryOutcome[]>;
  resolveAudience(request: ClaimedEntryRequest, audience: AudienceQuery, terms: LeaseTerms): Promise<ResolveOutcome>;
  enterBatch(request: ClaimedEntryRequest, terms: BatchTerms): Promise<BatchOutcome>;
  finish(request: ClaimedEntryRequest, now: number): Promise<boolean>;
  fail(request: ClaimedEntryRequest, error: string, now: number): Promise<boolean>;
  release(request: ClaimedEntryRequest): Promise<void>;
  /** Postgres: calls `onWake` on every acceptance by any process; resolves to a closer. */
  listen?(onWake: () => void, onError: (error: Error) => void): Promise<() => Promise<void>>;
}
