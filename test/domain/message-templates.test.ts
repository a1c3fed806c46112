import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  interpolateMessage,
  prepareMessage,
  PUSH_PAYLOAD_LIMIT,
  renderMessage,
  SMS_BODY_LIMIT,
  WEBHOOK_BODY_LIMIT,
  type PreparedMessage,
} from '../../src/domain/message-templates.js';
import { RENDER_TIME_LIMIT_REASON, TemplateError, TemplateTimeLimitError, templateScope } from '../../src/domain/templates.js';

const scope = templateScope({ attributeValues: { promo_code: 'SUMMER25' }, tags: { Name: 'Ann' }, userId: 'user-1' });
const PUSH_OVER = 'the push payload (title, body and data as JSON) renders to more than 4096 bytes';

const push = (title: string, body: string, data?: Record<string, unknown>): PreparedMessage<{ payload: unknown }> =>
  prepareMessage({ payload: { template: { title, body, ...(data === undefined ? {} : { data }) }, limit: PUSH_PAYLOAD_LIMIT } });

/** 200 × 200 × 200 iterations: far past the time limit if the render were not stopped by its output first. */
const EIGHT_MILLION_XS = '{% for a in (1..200) %}{% for b in (1..200) %}{% for c in (1..200) %}x{% endfor %}{% endfor %}{% endfor %}';

describe('renderMessage: the output cap is enforced while rendering', () => {
  it('stops a render as soon as its output passes the cap, long before it could finish', () => {
    // Built whole, the text would be 8 MB after several seconds, and the time limit would fail it first.
    assert.throws(
      () => renderMessage(push('Hi', EIGHT_MILLION_XS), scope),
      (error: unknown) => error instanceof TemplateError && !(error instanceof TemplateTimeLimitError) && error.message === PUSH_OVER,
    );
  });

  it('counts text captured into a variable, so a capture cannot build what the cap refuses', () => {
    assert.throws(
      () => renderMessage(push('Hi', `{% capture big %}${EIGHT_MILLION_XS}{% endcapture %}{{ big | size }}`), scope),
      (error: unknown) => error instanceof TemplateError && error.message === PUSH_OVER,
    );
  });

  it('fails a 100 MB push body at its cap', () => {
    const template = `{% for i in (1..1000000) %}${'x'.repeat(100)}{% endfor %}`;
    assert.throws(() => renderMessage(push('Hi', template), scope), { message: PUSH_OVER });
  });

  it('measures a push payload as its JSON: escaping counts', () => {
    assert.deepEqual(renderMessage(push('Hi', 'x'.repeat(4000)), scope), { payload: { title: 'Hi', body: 'x'.repeat(4000) } });
    // 2,100 quotes are 4,200 bytes of JSON.
    assert.throws(() => renderMessage(push('Hi', '"'.repeat(2100)), scope), { message: PUSH_OVER });
    assert.throws(() => renderMessage(push('Hi', 'short', { blob: 'y'.repeat(4090) }), scope), { message: PUSH_OVER });
    // Only the strings render, yet the numbers around them count.
    assert.throws(() => renderMessage(push('Hi', 'short', { ids: Array<number>(1000).fill(12345) }), scope), { message: PUSH_OVER });
  });

  it('counts SMS characters as code points', () => {
    const sms = (body: string) => prepareMessage({ payload: { template: { body }, limit: SMS_BODY_LIMIT } });
    const emoji = '\u{1F600}';
    assert.equal(renderMessage(sms(emoji.repeat(1600)), scope).payload.body, emoji.repeat(1600));
    assert.throws(() => renderMessage(sms(emoji.repeat(1601)), scope), { message: 'the SMS body renders to more than 1600 characters' });
  });

  it('caps a webhook body at 256 KiB', () => {
    const body = (template: string) => prepareMessage({ body: { template, limit: WEBHOOK_BODY_LIMIT } });
    assert.equal(renderMessage(body(`{% for i in (1..2621) %}${'x'.repeat(100)}{% endfor %}`), scope).body.length, 262_100);
    assert.throws(() => renderMessage(body(`{% for i in (1..20000) %}${'x'.repeat(100)}{% endfor %}`), scope), {
      message: 'the webhook body renders to more than 262144 bytes',
    });
  });

  it('fails a looping template at the time limit', () => {
    const looping = '{% for a in (1..3000) %}{% for b in (1..3000) %}{% endfor %}{% endfor %}';
    assert.throws(
      () => renderMessage(push('Hi', looping), scope),
      (error: unknown) => error instanceof TemplateTimeLimitError && error.message === RENDER_TIME_LIMIT_REASON,
    );
  });
});

describe('interpolateMessage: the shortcut on the event loop', () => {
  it('renders text-and-variable templates and leaves the rest to Liquid', () => {
    assert.deepEqual(interpolateMessage(push('Hi {{ tags.Name }}', 'Use {{ promo_code }}'), scope), {
      payload: { title: 'Hi Ann', body: 'Use SUMMER25' },
    });
    assert.equal(interpolateMessage(push('Hi {{ tags.Name | upcase }}', 'body'), scope), undefined);
  });

  it('applies the same cap to a value that is too long', () => {
    const long = templateScope({ attributeValues: { note: 'z'.repeat(5000) }, tags: {}, userId: 'user-2' });
    assert.throws(() => interpolateMessage(push('Hi', '{{ note }}'), long), { message: PUSH_OVER });
  });
});
