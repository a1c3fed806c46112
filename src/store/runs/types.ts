import type { Kysely } from 'kysely';
import type { JourneyParams, Point } from '../../domain/journey.js';
import type { Channel } from '../../domain/messages.js';
import type { CompiledAudience } from '../audience/index.js';
import type { BatchMessage, UnrenderedMessage } from '../outbox/index.js';
import type { Database, JourneyStatus } from '../schema.js';

// The runs store's contract, apart from its facade (index.ts) so the dialect
// files and move-groups.ts import it without importing RunStore back.

/**
 * Which of a user's devices a channel reaches: `push` — a device of a push
 * platform with a push token; `email` — device type 14; `sms` — device type
 * 18 (WhatsApp, 21, is a channel of its own, not SMS); `any` — every device.
 */
export type DeviceKind = 'push' | 'email' | 'sms' | 'any';

export interface RecipientDevice {
  readonly id: number;
  readonly userId: string;
  readonly hwid: string;
  readonly deviceType: number;
  readonly pushToken: string | null;
  /** Offset from UTC in seconds; null when the device never reported one. */
  readonly timezone: number | null;
}

/** One point of one journey: the unit the scheduler claims batches of. */
export interface PointGroup {
  readonly journeyId: number;
  readonly pointUuid: string;
}

/** A group's earliest due run, active or held, whether or not it is due yet. */
export interface GroupDue extends PointGroup {
  readonly nextDueAt: number;
}

/** A due run as the batch selected it. */
export interface DueRun {
  readonly id: number;
  readonly userId: string;
  /** JSON object of the entry's attribute values. */
  readonly attributes: string;
  readonly dueAt: number;
  /** The point whose wait the run has begun; equal to the batch's point when this execution ends a wait. */
  readonly waitingPoint: string | null;
}

/** Where one run of the batch ends up. */
/** A due run as both dialects' batch selects return it, before it becomes a DueRun. */
export interface DueRunRow {
  readonly id: number;
  readonly user_id: string;
  readonly attributes: string;
  readonly due_at: number;
  readonly waiting_point: string | null;
}

export type RunMove =
  /** At point `to`, due at once (the batch did not execute it). */
  | { readonly kind: 'advance'; readonly runId: number; readonly to: string }
  /** Waiting at point `at` until `until`. */
  | { readonly kind: 'hold'; readonly runId: number; readonly at: string; readonly until: number }
  /** Out of the journey, at point `at`. */
  | { readonly kind: 'exit'; readonly runId: number; readonly at: string };

/** Tag values to set on every device of these users. */
export interface TagWrite {
  readonly userIds: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
}

/** The messages one point produced for runs of the batch. */
export interface PointMessages {
  readonly pointUuid: string;
  readonly channel: Channel;
  readonly items: readonly BatchMessage[];
  /** Counted as the point's `failed`, in the batch's counts. */
  readonly unrendered: readonly UnrenderedMessage[];
}

/** What the batch adds to one point's counters. */
export interface PointCounts {
  readonly pointUuid: string;
  readonly entered: number;
  readonly passed: number;
  /** Messages or tag writes the point could not produce, and runs failed there (docs/engine.md, "A batch that throws"). */
  readonly failed: number;
}

/** Everything a batch decided, written at the end of its transaction (tag writes are applied as they happen). */
export interface BatchWrite {
  /** Where each run of the batch ends up. */
  readonly moves: readonly RunMove[];
  readonly counts: readonly PointCounts[];
  readonly messages: readonly PointMessages[];
}

export interface BatchTerms {
  readonly now: number;
  /** Most runs in the batch. */
  readonly limit: number;
}

export type BatchOutcome =
  | { readonly kind: 'journey-not-running'; readonly status: JourneyStatus | undefined }
  | {
      readonly kind: 'executed';
      readonly runs: readonly DueRun[];
      /** Points runs were left at, due at once. */
      readonly advancedTo: readonly string[];
      /** The group's earliest remaining run after the batch, or null when it has none; after a full batch, `now`. */
      readonly nextDueAt: number | null;
    };

/** Reads a point's execution needs, inside the batch's transaction. */
export interface BatchReads {
  /** The users among `userIds` with a device matching `audience` (one query). */
  usersMatching(audience: CompiledAudience, userIds: readonly string[]): Promise<Set<string>>;
  /** The users' devices of one kind, each user's most recently updated first. */
  devicesOf(userIds: readonly string[], kind: DeviceKind): Promise<Map<string, RecipientDevice[]>>;
  /** Each user's tags, as getTags shows a user: a tag's value from the user's most recently updated device that has it. */
  tagsOf(userIds: readonly string[]): Promise<Map<string, Record<string, unknown>>>;
}

/** The batch's transaction as the engine uses it: reads, and tag writes that later points of the batch see. */
export interface BatchAccess extends BatchReads {
  /**
   * Sets each write's tags on every device of its users, now. A write with
   * a value invalid for its tag's type is skipped whole (validation precedes
   * every device write); returns how many users' writes were skipped, and why.
   */
  writeTags(writes: readonly TagWrite[]): Promise<{ readonly refusedUsers: number; readonly reasons: readonly string[] }>;
}

/** A running journey's definition as the scheduler plans with it. */
export interface RunningJourney {
  readonly id: number;
  readonly uuid: string;
  readonly applicationId: number;
  readonly revision: number;
  readonly params: JourneyParams;
  readonly points: readonly Point[];
}

/** Runs of one batch that end up in the same place: one UPDATE writes the same values to all of them. */
export interface MoveGroup {
  readonly pointUuid: string;
  readonly state: 'active' | 'exited';
  readonly dueAt: number;
  readonly waitingPoint: string | null;
  readonly runIds: number[];
}

/** The per-dialect statements behind RunStore, one implementation in sqlite.ts and one in postgres.ts. */
export interface RunStatements {
  /** Runs `body` in the batch's transaction, giving it the executor to use; commits when it resolves. */
  transaction<T>(body: (executor: Kysely<Database>) => Promise<T>): Promise<T>;
  /**
   * The batch's first statement: the journey's status, read once the
   * journey's batch lock is held (shared, until the transaction ends).
   */
  lockJourney(executor: Kysely<Database>, journeyId: number): Promise<JourneyStatus | undefined>;
  /** In a lifecycle transition: waits for the journey's batches in flight, and holds off new ones until commit. */
  awaitBatches(executor: Kysely<Database>, journeyId: number): Promise<void>;
  /** Up to `limit` due active runs of the group, earliest first; Postgres locks them, skipping locked ones. */
  selectDue(executor: Kysely<Database>, group: PointGroup, terms: BatchTerms): Promise<DueRun[]>;
  /** Writes each group's values to its runs (`exited_at` is `now` for an exit, `updated_at` always). */
  applyMoves(executor: Kysely<Database>, groups: readonly MoveGroup[], now: number): Promise<void>;
  /**
   * Lets the batch's commit return before its WAL is flushed (Postgres; SQLite in WAL mode with
   * `synchronous = NORMAL` never waits for a flush). Called for a batch that enqueued no message:
   * nothing it wrote has left the database, so if a server crash loses the commit its runs are
   * simply due again and executed again.
   */
  commitWithoutFlush(executor: Kysely<Database>): Promise<void>;
  /** The group's earliest active run, or null. */
  nextDueAt(executor: Kysely<Database>, group: PointGroup): Promise<number | null>;
  nextDueTimes(groups: readonly PointGroup[]): Promise<GroupDue[]>;
}
