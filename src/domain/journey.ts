import type { JourneyStatus } from '../store/schema.js';

export type { JourneyStatus };

export const JOURNEY_STATUSES: readonly JourneyStatus[] = [
  'STATUS_DRAFT',
  'STATUS_RUNNING',
  'STATUS_PAUSED',
  'STATUS_FINISHED',
  'STATUS_ARCHIVED',
];

export interface PointOutput {
  key: string;
  next_point_uuid: string;
}

/** The point_data payload of each point type, keyed as in CONTRACT §4. */
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
    webhook: { url: string; method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string };
  };
  POINT_TYPE_SET_TAGS: { set_tags: { tags: Record<string, string> } };
  POINT_TYPE_EXIT: { exit?: Record<string, never> };
}

export type PointType = keyof PointDataByType;

export interface ApiAttribute {
  name: string;
  default?: string;
}

/** A condition on an event attribute, e.g. {"attribute": "amount", "operator": "gte", "value": 10}. */
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

/** A journey point; narrowing on `point_type` narrows `point_data`. */
export type Point = { [T in PointType]: PointBase<T> }[PointType];

export type PointOf<T extends PointType> = Extract<Point, { point_type: T }>;

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

export interface Journey {
  info: JourneyInfo;
  points: Point[];
}
