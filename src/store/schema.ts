import type { Generated } from 'kysely';
import type { JourneyStatus } from '../domain/journey.js';
import type { Channel } from '../domain/messages.js';
import type { EntryRequestStatus, EntrySelectorKind } from '../domain/start-request.js';

/** Column types the domain defines, for the store modules that name them. */
export type { EntryRequestStatus, EntrySelectorKind, JourneyStatus };

/**
 * The tables every dialect creates, as Kysely sees them. Times are epoch
 * milliseconds in BIGINT columns on both backends so that the engine's due-time
 * arithmetic is identical everywhere; JSON documents are TEXT for the same reason.
 */
export interface Database {
  applications: ApplicationsTable;
  tokens: TokensTable;
  token_applications: TokenApplicationsTable;
  devices: DevicesTable;
  tag_definitions: TagDefinitionsTable;
  device_tags: DeviceTagsTable;
  events: EventsTable;
  filters: FiltersTable;
  journeys: JourneysTable;
  entry_rate_limits: EntryRateLimitsTable;
  entry_requests: EntryRequestsTable;
  entry_stage: EntryStageTable;
  entry_stage_chunks: EntryStageChunksTable;
  runs: RunsTable;
  journey_point_counters: JourneyPointCountersTable;
  outbox: OutboxTable;
  message_deliveries: MessageDeliveriesTable;
  channel_settings: ChannelSettingsTable;
  journey_event_triggers: JourneyEventTriggersTable;
  segment_entries: SegmentEntriesTable;
}

export interface ApplicationsTable {
  id: Generated<number>;
  code: string;
  name: string;
  created_at: number;
}

export type TokenKind = 'api' | 'device';

export interface TokensTable {
  id: Generated<number>;
  kind: TokenKind;
  /** sha256 hex of the token; the token itself is never stored. */
  token_hash: string;
  name: string;
  created_at: number;
}

export interface TokenApplicationsTable {
  token_id: number;
  application_id: number;
}

export interface DevicesTable {
  id: Generated<number>;
  application_id: number;
  hwid: string;
  /** The owning user; equals hwid for a device registered without a userId. */
  user_id: string;
  device_type: number;
  push_token: string | null;
  language: string | null;
  /** Offset from UTC in seconds. */
  timezone: number | null;
  created_at: number;
  updated_at: number;
}

export interface TagDefinitionsTable {
  id: Generated<number>;
  application_id: number;
  name: string;
  /** TagType: 1 Integer … 7 Version. */
  type: number;
  created_at: number;
}

/**
 * One row per (device, tag) — one per element for List tags. Exactly one of the
 * value columns is set, chosen by the tag's type (see domain/tags.ts), so that
 * each has a partial index seglang can use.
 */
export interface DeviceTagsTable {
  device_id: number;
  tag_id: number;
  int_value: number | null;
  real_value: number | null;
  text_value: string | null;
}

export interface EventsTable {
  id: Generated<number>;
  application_id: number;
  device_id: number | null;
  user_id: string;
  name: string;
  /** JSON object of the event's attributes. */
  attributes: string;
  occurred_at: number;
  received_at: number;
}

export interface FiltersTable {
  id: Generated<number>;
  application_id: number;
  name: string;
  expression: string;
  created_at: number;
}

export interface JourneysTable {
  id: Generated<number>;
  uuid: string;
  application_id: number;
  title: string;
  status: JourneyStatus;
  /** JSON of the journey's params object. */
  params: string;
  /** JSON array of the journey's points. */
  points: string;
  created_at: number;
  updated_at: number;
  /** Incremented by every write; transitions compare-and-set on it. */
  revision: Generated<number>;
}

/** The last accepted Start-by-API request per entry point: the one-per-minute gate. */
export interface EntryRateLimitsTable {
  journey_id: number;
  point_uuid: string;
  last_accepted_at: number;
}

/** An accepted Start-by-API request; the entry worker claims it under a lease. */
export interface EntryRequestsTable {
  id: Generated<number>;
  uuid: string;
  journey_id: number;
  application_id: number;
  point_uuid: string;
  selector_kind: EntrySelectorKind;
  /** JSON array of the de-duplicated ids, or the filter's text. */
  selector: string;
  /** How many ids `selector` names; 0 for a filter. The claim reads this, never the ids. */
  id_count: number;
  /** JSON object: the request's attribute values merged over the point's defaults. */
  attributes: string;
  status: EntryRequestStatus;
  /** 1 once the audience is staged, else 0. */
  audience_resolved: number;
  selected: number;
  entered: number;
  skipped_unknown: number;
  skipped_already: number;
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/**
 * Whose audience a stage row holds: 0 a Start-by-API request (`source_id` an
 * entry_requests id), 1 a segment entry (a segment_entries id).
 */
export type EntryStageSource = 0 | 1;

/** SQLite: a staged entry's resolved, de-duplicated audience; a row leaves when its user has been entered (or skipped). */
export interface EntryStageTable {
  source: EntryStageSource;
  source_id: number;
  user_id: string;
}

/**
 * Postgres: a staged entry's resolved, de-duplicated audience in chunks of
 * sorted user ids; the users are numbered across the chunks (`first_seq` is
 * the number of a chunk's first user) and batches take them in ranges.
 */
export interface EntryStageChunksTable {
  source: EntryStageSource;
  source_id: number;
  first_seq: number;
  user_ids: string[];
}

export type RunState = 'active' | 'exited' | 'dropped';

/** One user's pass through a journey: where it is now and when that point is due. */
export interface RunsTable {
  id: Generated<number>;
  journey_id: number;
  application_id: number;
  user_id: string;
  /** The point the run is at (or ended at). */
  point_uuid: string;
  state: RunState;
  /** When the current point is due to execute, epoch ms. */
  due_at: number;
  /** JSON object of the entry's attribute values. */
  attributes: string;
  /** The Start-by-API request that entered it; null for other entries. */
  entry_request_id: number | null;
  entered_at: number;
  updated_at: number;
  /** Lease of the engine worker that has claimed the run's batch; null when unclaimed. */
  lease_owner: string | null;
  lease_expires_at: number | null;
  /** The holding point whose wait the run has begun; when it is not `point_uuid`, the run has just arrived there. */
  waiting_point: string | null;
  /** When the run stopped being active. */
  exited_at: number | null;
}

/** Per-point counters the engine increments as runs enter, pass and send at a point. */
export interface JourneyPointCountersTable {
  journey_id: number;
  point_uuid: string;
  entered: number;
  passed: number;
  sent: number;
  failed: number;
}

/**
 * `pending`: to deliver at `next_attempt_at` (a claim pushes that forward by
 * its lease); `held`: its journey is paused; `sent` / `failed`: final, logged
 * in message_deliveries; `cancelled`: its run was dropped or its journey finished.
 */
export type OutboxStatus = 'pending' | 'held' | 'sent' | 'failed' | 'cancelled';

/** One rendered message to deliver; see src/store/outbox/index.ts. */
export interface OutboxTable {
  id: Generated<number>;
  /** Derived from (run, point, channel, recipient), never from an attempt: one row per message, one key per provider call. */
  idempotency_key: string;
  application_id: number;
  journey_id: number;
  run_id: number;
  point_uuid: string;
  user_id: string;
  channel: Channel;
  /** The device addressed, when the recipient is one of the user's devices. */
  hwid: string | null;
  /** Push token, email address, phone number or webhook URL. */
  recipient: string;
  /** JSON of the rendered payload. */
  payload: string;
  status: OutboxStatus;
  /** Delivery attempts started (counted when claimed). */
  attempts: Generated<number>;
  next_attempt_at: number;
  /** The dispatcher holding the claim; null when unclaimed. */
  lease_owner: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** The final outcome of one outbox message. */
export interface MessageDeliveriesTable {
  id: Generated<number>;
  outbox_id: number;
  journey_id: number;
  user_id: string;
  outcome: 'sent' | 'failed';
  /** The provider that handled the last attempt (`http`, `smtp`, `log`). */
  provider: string;
  /** Why it failed; null when sent. */
  reason: string | null;
  /** HTTP status or SMTP reply code of the last attempt, when there was one. */
  response_code: number | null;
  attempts: number;
  delivered_at: number;
}

/** Which provider delivers an application's channel, and its configuration (JSON). */
export interface ChannelSettingsTable {
  application_id: number;
  channel: Channel;
  provider: string;
  config: string;
  updated_at: number;
}

/**
 * An EVENT entry point or WAIT_EVENT point of a running journey, under each
 * event name it listens for; rows exist exactly while the journey runs.
 */
export interface JourneyEventTriggersTable {
  application_id: number;
  event_name: string;
  journey_id: number;
  point_uuid: string;
  kind: 'entry' | 'wait';
  /** The point's index in the journey's points: the first matching entry point wins. */
  point_order: number;
  /** The journey's `allow_reenter`: 1 or 0. */
  allow_reenter: number;
  /** JSON of the point, as validated by `start`. */
  point: string;
}

export type SegmentEntryStatus = 'scheduled' | 'processing' | 'done' | 'failed' | 'cancelled';

/** One START_BY_SEGMENT point's entry into a started journey; the segment worker claims it under a lease. */
export interface SegmentEntriesTable {
  id: Generated<number>;
  journey_id: number;
  application_id: number;
  point_uuid: string;
  /** The point's seglang filter. */
  filter: string;
  /** When to enter: the start, or the point's `start_at`. */
  due_at: number;
  status: SegmentEntryStatus;
  /** 1 once the audience is staged, else 0. */
  audience_resolved: Generated<number>;
  selected: Generated<number>;
  entered: Generated<number>;
  /** Always 0: kept so that every staged entry's progress has the same columns. */
  skipped_unknown: Generated<number>;
  skipped_already: Generated<number>;
  attempts: Generated<number>;
  lease_owner: string | null;
  lease_expires_at: number | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}
