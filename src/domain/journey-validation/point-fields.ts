import { compileAbSplit } from '../ab-split.js';
import { compileEntryAttributes } from '../attributes.js';
import { compileEventMatcher, compileWaitEvent } from '../event-conditions.js';
import {
  POINT_DATA_KEYS,
  WEBHOOK_METHODS,
  type Point,
  type PointDataByType,
  type PointDraft,
  type PointType,
  type WebhookMethod,
} from '../journey.js';
import { compileWait, parseUntilDate } from '../schedule.js';
import { parseSeglang, SeglangError } from '../seglang/index.js';
import { tagNameProblem } from '../tags.js';
import { templateFieldsOf } from '../template-fields.js';
import { checkTemplate } from '../templates.js';
import type { WebhookDestinationPolicy } from '../webhook-destination.js';
import { fixedWebhookUrl } from '../webhook-url.js';
import {
  describeValue,
  fail,
  isObject,
  optionalBoolean,
  optionalString,
  requireList,
  requireNonEmptyString,
  requireObject,
  requireString,
  requireStringRecord,
  type JsonObject,
} from './fields.js';

const HTTP_HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The one place a point's fields are checked: returns the point with its
 * `point_data` typed, or throws a `FieldProblem` naming the field. Checks the
 * fields each point type needs and their types, that every template parses
 * and every seglang filter parses. Where the engine compiles a point's data
 * (waits, splits, event triggers, entry attributes) its own compile function
 * is the check, so `start` accepts exactly what the engine can run.
 */
export function parsePoint(draft: PointDraft, journey: JourneyContext): Point {
  const key = POINT_DATA_KEYS[draft.point_type];
  const section = draft.point_data[key];
  if (draft.point_type !== 'POINT_TYPE_EXIT' && !isObject(section)) {
    fail(`point_data.${key} must be an object for ${draft.point_type}, got ${describeValue(section)}`);
  }
  const parse = POINT_DATA_PARSERS[draft.point_type] as (section: JsonObject, context: ParseContext) => unknown;
  const pointData = parse(isObject(section) ? section : {}, { ...journey, pointUuid: draft.uuid });
  // POINT_DATA_PARSERS is keyed by point type, so the data matches the draft's point_type.
  const point = { ...draft, point_data: pointData } as Point;
  for (const { path, template } of templateFieldsOf(point)) {
    const error = checkTemplate(template);
    if (error !== undefined) fail(`${path} is not a valid template: ${error}`);
  }
  return point;
}

/** What checking a point needs beyond the point. */
export interface JourneyContext {
  readonly journeyUuid: string;
  /** Where webhooks may go: a webhook URL whose fixed host it refuses refuses `start`. */
  readonly webhookDestinations: WebhookDestinationPolicy;
}

interface ParseContext extends JourneyContext {
  readonly pointUuid: string;
}

/** The object under a point type's one `point_data` key. */
type SectionOf<T extends PointType> = NonNullable<PointDataByType[T][keyof PointDataByType[T]]>;

const POINT_DATA_PARSERS: { [T in PointType]: (section: JsonObject, context: ParseContext) => PointDataByType[T] } = {
  POINT_TYPE_START_BY_API: (s) => {
    const attributes = s.attributes as SectionOf<'POINT_TYPE_START_BY_API'>['attributes'];
    const compiled = compileEntryAttributes(attributes);
    if (!compiled.ok) fail(compiled.error);
    return {
      start_by_api: { attributes, is_deactivated: optionalBoolean(s.is_deactivated, 'start_by_api.is_deactivated') },
    };
  },
  POINT_TYPE_START_BY_SEGMENT: (s) => ({
    start_by_segment: {
      filter: parseFilter(s.filter, 'start_by_segment.filter'),
      start_at: parseOptionalDate(s.start_at, 'start_by_segment.start_at'),
      is_deactivated: optionalBoolean(s.is_deactivated, 'start_by_segment.is_deactivated'),
    },
  }),
  POINT_TYPE_EVENT: (s) => {
    const trigger = s as SectionOf<'POINT_TYPE_EVENT'>;
    const compiled = compileEventMatcher(trigger.event_name, trigger.event_conditions);
    if (!compiled.ok) fail(`message_bus.${compiled.error}`);
    return {
      message_bus: {
        event_name: trigger.event_name,
        event_conditions: trigger.event_conditions,
        is_deactivated: optionalBoolean(s.is_deactivated, 'message_bus.is_deactivated'),
      },
    };
  },
  POINT_TYPE_WAIT: (s) => {
    const wait = s as SectionOf<'POINT_TYPE_WAIT'>;
    const compiled = compileWait(wait);
    if (!compiled.ok) fail(compiled.error);
    return { wait };
  },
  POINT_TYPE_BOOLEAN_SPLITTER: (s) => ({
    boolean_splitter: { filter: parseFilter(s.filter, 'boolean_splitter.filter') },
  }),
  POINT_TYPE_AB_SPLITTER: (s, { journeyUuid, pointUuid }) => {
    const branches = requireList(s.branches, 'ab_splitter.branches') as SectionOf<'POINT_TYPE_AB_SPLITTER'>['branches'];
    const compiled = compileAbSplit(journeyUuid, pointUuid, branches);
    if (!compiled.ok) fail(compiled.error);
    return { ab_splitter: { branches } };
  },
  POINT_TYPE_WAIT_EVENT: (s) => {
    const waitEvent = s as SectionOf<'POINT_TYPE_WAIT_EVENT'>;
    const compiled = compileWaitEvent(waitEvent);
    if (!compiled.ok) fail(compiled.error);
    return { wait_event: waitEvent };
  },
  POINT_TYPE_SEND_PUSH: (s) => ({
    send_push: {
      title: requireString(s.title, 'send_push.title'),
      body: requireNonEmptyString(s.body, 'send_push.body'),
      data: s.data === undefined ? undefined : requireObject(s.data, 'send_push.data'),
    },
  }),
  POINT_TYPE_SEND_EMAIL: (s) => ({
    send_email: {
      subject: requireNonEmptyString(s.subject, 'send_email.subject'),
      body: requireNonEmptyString(s.body, 'send_email.body'),
    },
  }),
  POINT_TYPE_SEND_SMS: (s) => ({
    send_sms: { body: requireNonEmptyString(s.body, 'send_sms.body') },
  }),
  POINT_TYPE_WEBHOOK: (s, { webhookDestinations }) => ({ webhook: parseWebhook(s, webhookDestinations) }),
  POINT_TYPE_SET_TAGS: (s) => {
    const tags = requireStringRecord(s.tags, 'set_tags.tags');
    if (Object.keys(tags).length === 0) fail('set_tags.tags must name at least one tag');
    for (const name of Object.keys(tags)) {
      const problem = tagNameProblem(name);
      if (problem) fail(`set_tags.tags: ${problem}`);
    }
    return { set_tags: { tags } };
  },
  POINT_TYPE_EXIT: () => ({}),
};

/** A seglang expression that parses; a syntax error refuses `start` with its position. */
function parseFilter(value: unknown, path: string): string {
  const filter = requireNonEmptyString(value, path);
  try {
    parseSeglang(filter);
  } catch (error) {
    if (error instanceof SeglangError) fail(`${path}: ${error.message}`);
    throw error;
  }
  return filter;
}

function parseOptionalDate(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  const parsed = parseUntilDate(value);
  if (!parsed.ok) fail(`${path}: ${parsed.error}`);
  return value as string;
}

function parseWebhook(s: JsonObject, destinations: WebhookDestinationPolicy): SectionOf<'POINT_TYPE_WEBHOOK'> {
  const url = requireNonEmptyString(s.url, 'webhook.url');
  const fixed = fixedWebhookUrl(url);
  if (!fixed.ok) fail(`webhook.url ${fixed.error}`);
  const refusal = destinations.refusalOfHost(fixed.value.hostname);
  if (refusal !== undefined) fail(`webhook.url is refused: ${refusal}`);
  const method = s.method;
  if (typeof method !== 'string' || !(WEBHOOK_METHODS as readonly string[]).includes(method)) {
    fail(`webhook.method must be ${WEBHOOK_METHODS.join(' or ')}, got ${describeValue(method)}`);
  }
  const headers = s.headers === undefined ? undefined : requireStringRecord(s.headers, 'webhook.headers');
  for (const name of Object.keys(headers ?? {})) {
    if (!HTTP_HEADER_NAME.test(name)) fail(`webhook.headers has an invalid header name ${describeValue(name)}`);
  }
  const body = optionalString(s.body, 'webhook.body');
  if (method === 'GET' && body !== undefined) fail('webhook.body is only sent with method POST');
  return { url, method: method as WebhookMethod, headers, body };
}
