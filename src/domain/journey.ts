export const JOURNEY_STATUSES = ['STATUS_DRAFT', 'STATUS_RUNNING', 'STATUS_PAUSED', 'STATUS_FINISHED', 'STATUS_ARCHIVED'] as const;

export type JourneyStatus = (typeof JOURNEY_STATUSES)[number];

/** Point uuids key index entries (runs, entry points, event triggers); Postgres refuses B-tree keys over ~2.7 kB. */
export const POINT_UUID_MAX_LENGTH = 255;

export interface PointOutput {
  key: string;
  next_point_uuid: string;
}

/** The output every point but EXIT and AB_SPLITTER has; for WAIT_EVENT it is taken on timeout. */
export const DEFAULT_OUTPUT = 'default';
/** The BOOLEAN_SPLITTER output taken by users whose devices match the filter. */
export const MATCHED_OUTPUT = 'output1';

/** The point_data payload of each point type, keyed as in docs/journeys.md. */
export interface PointDataByType {
  POINT_TYPE_START_BY_API: { start_by_api: { attributes?: ApiAttribute[]; is_deactivated?: boolean } };
  POINT_TYPE_START_BY_SEGMENT: { start_by_segment: { filter: string; start_at?: string; is_deactivated?: boolean } };
  POINT_TYPE_EVENT: {
    message_bus: { event_name: string; event_conditions?: EventCondition[]; is_deactivated?: boolean };
  };
  POINT_TYPE_WAIT: { wait: { delay_seconds?: number; until_time?: string; until_date?: string } };
  POINT_TYPE_BOOLEAN_SPLITTER: { boolean_splitter: { filter: string } };
  POINT_TYPE_AB_SPLITTER: { ab_splitter: { branches: { key: string; percent: number }[] } };
  POINT_TYPE_WAIT_EVENT: {
    wait_event: {
      branches: { key: string; event_name: string; event_conditions?: EventCondition[] }[];
      timeout_seconds: number;
    };
  };
  POINT_TYPE_SEND_PUSH: { send_push: { title: string; body: string; data?: Record<string, unknown> } };
  POINT_TYPE_SEND_EMAIL: { send_email: { subject: string; body: string } };
  POINT_TYPE_SEND_SMS: { send_sms: { body: string } };
  POINT_TYPE_WEBHOOK: {
    webhook: { url: string; method: WebhookMethod; headers?: Record<string, string>; body?: string };
  };
  POINT_TYPE_SET_TAGS: { set_tags: { tags: Record<string, string> } };
  POINT_TYPE_EXIT: { exit?: Record<string, never> };
}

export type PointType = keyof PointDataByType;

/** The one key of `point_data` that carries each point type's fields. */
export const POINT_DATA_KEYS = {
  POINT_TYPE_START_BY_API: 'start_by_api',
  POINT_TYPE_START_BY_SEGMENT: 'start_by_segment',
  POINT_TYPE_EVENT: 'message_bus',
  POINT_TYPE_WAIT: 'wait',
  POINT_TYPE_BOOLEAN_SPLITTER: 'boolean_splitter',
  POINT_TYPE_AB_SPLITTER: 'ab_splitter',
  POINT_TYPE_WAIT_EVENT: 'wait_event',
  POINT_TYPE_SEND_PUSH: 'send_push',
  POINT_TYPE_SEND_EMAIL: 'send_email',
  POINT_TYPE_SEND_SMS: 'send_sms',
  POINT_TYPE_WEBHOOK: 'webhook',
  POINT_TYPE_SET_TAGS: 'set_tags',
  POINT_TYPE_EXIT: 'exit',
} as const satisfies { [T in PointType]: keyof PointDataByType[T] };

export const POINT_TYPES = Object.keys(POINT_DATA_KEYS) as PointType[];

/** Points through which users enter a journey; nothing leads into them. */
export const ENTRY_POINT_TYPES = [
  'POINT_TYPE_START_BY_API',
  'POINT_TYPE_START_BY_SEGMENT',
  'POINT_TYPE_EVENT',
] as const satisfies readonly PointType[];

export type EntryPointType = (typeof ENTRY_POINT_TYPES)[number];

export function isEntryPointType(type: PointType): type is EntryPointType {
  return (ENTRY_POINT_TYPES as readonly PointType[]).includes(type);
}

export const WEBHOOK_METHODS = ['GET', 'POST'] as const;
export type WebhookMethod = (typeof WEBHOOK_METHODS)[number];

export interface ApiAttribute {
  name: string;
  default?: string;
}

/**
 * A condition on an event attribute, e.g. {"attribute": "amount", "operator": "gte", "value": 10}.
 * Which operators and values are valid is decided in one place: `compileEventMatcher` (event-conditions.ts).
 */
export interface EventCondition {
  attribute: string;
  operator: string;
  value?: unknown;
}

interface PointBase<T extends PointType> {
  uuid: string;
  title?: string;
  point_type: T;
  point_data: PointDataByType[T];
  outputs: PointOutput[];
}

/** A journey point whose fields have been validated; narrowing on `point_type` narrows `point_data`. */
export type Point = { [T in PointType]: PointBase<T> }[PointType];

export type PointOf<T extends PointType> = Extract<Point, { point_type: T }>;

/**
 * A point as a client saved it: the shape is checked (uuid, a known type,
 * outputs), its `point_data` is not until the journey starts. Drafts may be
 * incomplete; unknown fields are kept as sent.
 */
export interface PointDraft {
  uuid: string;
  title?: string;
  point_type: PointType;
  point_data: Record<string, unknown>;
  outputs: PointOutput[];
}

export interface JourneyParams {
  application_code: string;
  allow_reenter?: boolean;
  silent_hours?: { from: string; to: string };
  [extra: string]: unknown;
}

export interface JourneyInfo {
  uuid: string;
  title: string;
  status: JourneyStatus;
  created_at: string;
  updated_at: string;
  params: JourneyParams;
}

/**
 * A journey as the API returns it. `points` conform to `Point` whenever the
 * journey is `STATUS_RUNNING`: it can only get there through `start`, which
 * validates them, and it cannot be edited while running. In any other status
 * they are what was last saved and only the `PointDraft` shape is guaranteed.
 */
export interface Journey {
  info: JourneyInfo;
  points: Point[];
}
