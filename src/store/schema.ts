import type { Generated } from 'kysely';

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

export type JourneyStatus =
  | 'STATUS_DRAFT'
  | 'STATUS_RUNNING'
  | 'STATUS_PAUSED'
  | 'STATUS_FINISHED'
  | 'STATUS_ARCHIVED';

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
}
