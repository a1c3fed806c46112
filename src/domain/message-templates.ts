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

/** Renders a message's templates for one scope; throws TemplateError (its message the reason) on any limit. */
export function renderMessage<T>(templates: MessageTemplates<T>, scope: TemplateScope): T {
  return renderParts(templates, (template, budget) => renderStrings(template, scope, budget)) as T;
}

/**
 * renderMessage by the concatenation shortcut only, cheap enough for the
 * event loop; undefined when a template needs Liquid. Throws as renderMessage.
 */
export function interpolateMessage<T>(templates: MessageTemplates<T>, scope: TemplateScope): T | undefined {
  return renderParts(templates, (template, budget) => interpolateStrings(template, scope, budget));
}

function renderParts<T>(templates: MessageTemplates<T>, render: (template: unknown, budget: RenderBudget) => unknown): T | undefined {
  // One deadline for the whole message.
  const deadline = performance.now() + RENDER_TIME_LIMIT_MS;
  const rendered: Record<string, unknown> = {};
  for (const [part, { template, limit }] of Object.entries<{ template: unknown; limit: OutputLimit }>(templates)) {
    const overflowReason = `${limit.what} renders to more than ${limit.max} ${limit.measure === 'text-characters' ? 'characters' : 'bytes'}`;
    // A UTF-16 code unit is at least one UTF-8 byte and at least half a character, so output past
    // this length is over the limit whatever it holds.
    const maxLength = limit.measure === 'text-characters' ? 2 * limit.max : limit.max;
    const value = render(template, new RenderBudget({ maxLength, overflowReason, deadline }));
    if (value === undefined) return undefined;
    if (measure(value, limit) > limit.max) throw new TemplateError(overflowReason);
    rendered[part] = value;
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
