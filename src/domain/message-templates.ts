import { MAX_TEXT_TAG_BYTES } from './tags.js';
import { interpolateStrings, RENDER_TIME_LIMIT_MS, RenderBudget, renderStrings, TemplateError, type TemplateScope } from './templates.js';

/**
 * The most a part of a message may render to (docs/messages.md, "Output
 * limits"). `json-bytes` measures the UTF-8 JSON text of the rendered value,
 * `text-bytes` the UTF-8 bytes of its strings added up, `text-characters`
 * their Unicode characters (code points).
 */
export interface OutputLimit {
  /** Names what is limited in the failure reason. */
  readonly what: string;
  readonly max: number;
  readonly measure: 'json-bytes' | 'text-bytes' | 'text-characters';
}

const KIB = 1024;

/** APNs and FCM both refuse a notification payload over 4 KiB. */
export const PUSH_PAYLOAD_LIMIT: OutputLimit = {
  what: 'the push payload (title, body and data as JSON)',
  max: 4 * KIB,
  measure: 'json-bytes',
};
/** The longest SMS gateways accept (10 concatenated segments). */
export const SMS_BODY_LIMIT: OutputLimit = { what: 'the SMS body', max: 1_600, measure: 'text-characters' };
export const EMAIL_LIMIT: OutputLimit = { what: 'the email subject and body', max: KIB * KIB, measure: 'text-bytes' };
export const WEBHOOK_URL_LIMIT: OutputLimit = { what: 'the webhook URL', max: 8 * KIB, measure: 'text-bytes' };
export const WEBHOOK_HEADERS_LIMIT: OutputLimit = { what: 'the webhook header values', max: 8 * KIB, measure: 'text-bytes' };
export const WEBHOOK_BODY_LIMIT: OutputLimit = { what: 'the webhook body', max: 256 * KIB, measure: 'text-bytes' };

/** A SET_TAGS point's values: each may be a text tag's longest (the tag's type is checked when written). */
export function tagValuesLimit(tags: number): OutputLimit {
  return { what: 'the tag values', max: tags * MAX_TEXT_TAG_BYTES, measure: 'text-bytes' };
}

/** The templates of one message, in parts, each with the limit on what it renders to; renders to a `T`. */
export type MessageTemplates<T> = { readonly [K in keyof T]: { readonly template: T[K]; readonly limit: OutputLimit } };

/**
 * A message's templates made ready to render for many scopes (once per
 * batch): each part's failure reason and limits worked out once.
 */
export interface PreparedMessage<T> {
  readonly templates: MessageTemplates<T>;
  readonly parts: readonly PreparedPart[];
}

interface PreparedPart {
  readonly name: string;
  readonly template: unknown;
  readonly limit: OutputLimit;
  readonly overflowReason: string;
  /** The cap on UTF-16 code units written, given to the part's RenderBudget. */
  readonly maxLength: number;
  /** The most the part can measure after `written` code units were written; only above the limit is it measured. */
  readonly bound: (written: number) => number;
}

export function prepareMessage<T>(templates: MessageTemplates<T>): PreparedMessage<T> {
  const parts = Object.entries<{ template: unknown; limit: OutputLimit }>(templates).map(([name, { template, limit }]): PreparedPart => ({
    name,
    template,
    limit,
    overflowReason: `${limit.what} renders to more than ${limit.max} ${limit.measure === 'text-characters' ? 'characters' : 'bytes'}`,
    // A UTF-16 code unit is at least one UTF-8 byte and at least half a character, so output past
    // this length is over the limit whatever it holds.
    maxLength: limit.measure === 'text-characters' ? 2 * limit.max : limit.max,
    bound: measureBound(template, limit),
  }));
  return { templates, parts };
}

/**
 * A code unit is at most 3 bytes of UTF-8 and at most 6 of JSON (`\u001f`);
 * a JSON value's other bytes are those of its template with every string
 * emptied, as rendering changes only strings.
 */
function measureBound(template: unknown, limit: OutputLimit): (written: number) => number {
  switch (limit.measure) {
    case 'json-bytes': {
      const skeletonBytes = Buffer.byteLength(JSON.stringify(template, (_key, value: unknown) => (typeof value === 'string' ? '' : value)));
      return (written) => skeletonBytes + 6 * written;
    }
    case 'text-bytes':
      return (written) => 3 * written;
    case 'text-characters':
      return (written) => written;
  }
}

/** Renders a message's templates for one scope; throws TemplateError (its message the reason) on any limit. */
export function renderMessage<T>(message: PreparedMessage<T>, scope: TemplateScope): T {
  // One deadline for the whole message.
  const deadline = performance.now() + RENDER_TIME_LIMIT_MS;
  return renderParts(message, deadline, (template, budget) => renderStrings(template, scope, budget)) as T;
}

/**
 * renderMessage by the concatenation shortcut only, cheap enough for the
 * event loop; undefined when a template needs Liquid. Throws as renderMessage.
 */
export function interpolateMessage<T>(message: PreparedMessage<T>, scope: TemplateScope): T | undefined {
  // The shortcut only concatenates, so it needs no deadline (reading the clock is ~30% of its cost).
  return renderParts(message, Infinity, (template, budget) => interpolateStrings(template, scope, budget));
}

function renderParts<T>(
  message: PreparedMessage<T>,
  deadline: number,
  render: (template: unknown, budget: RenderBudget) => unknown,
): T | undefined {
  const rendered: Record<string, unknown> = {};
  for (const part of message.parts) {
    const budget = new RenderBudget({ maxLength: part.maxLength, overflowReason: part.overflowReason, deadline });
    const value = render(part.template, budget);
    if (value === undefined) return undefined;
    if (part.bound(budget.written) > part.limit.max && measure(value, part.limit) > part.limit.max) {
      throw new TemplateError(part.overflowReason);
    }
    rendered[part.name] = value;
  }
  return rendered as T;
}

function measure(value: unknown, limit: OutputLimit): number {
  switch (limit.measure) {
    case 'json-bytes':
      return Buffer.byteLength(JSON.stringify(value));
    case 'text-bytes':
      return sumOverStrings(value, (text) => Buffer.byteLength(text));
    case 'text-characters':
      return sumOverStrings(value, countCodePoints);
  }
}

function sumOverStrings(value: unknown, size: (text: string) => number): number {
  if (typeof value === 'string') return size(value);
  if (value !== null && typeof value === 'object') {
    let total = 0;
    for (const item of Object.values(value)) total += sumOverStrings(item, size);
    return total;
  }
  return 0;
}

function countCodePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one character.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}
