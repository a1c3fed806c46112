import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PointDraft } from '../../src/domain/journey.js';
import { describePoint, expectedOutputKeys, validateJourneyForStart } from '../../src/domain/journey-validation/index.js';
import { templateFieldsOf } from '../../src/domain/template-fields.js';
import { everyPointType, minimalPoints, point, withPoint } from '../support/journey-fixtures.js';

const JOURNEY = '7d3c8a52-2f4e-4b8e-9a51-0c1d2e3f4a5b';

function problemOf(points: PointDraft[]): string {
  const result = validateJourneyForStart(JOURNEY, points);
  assert.equal(result.ok, false, 'expected the journey to be refused');
  return result.ok ? '' : result.error;
}

/** `points` with the point `uuid`'s point_data section for its type replaced by `fields`. */
function withData(uuid: string, key: string, fields: Record<string, unknown>): PointDraft[] {
  return withPoint(everyPointType(), uuid, (p) => ({ ...p, point_data: { [key]: fields } }));
}

function withOutputs(uuid: string, outputs: Record<string, string>): PointDraft[] {
  return withPoint(everyPointType(), uuid, (p) => ({
    ...p,
    outputs: Object.entries(outputs).map(([key, next_point_uuid]) => ({ key, next_point_uuid })),
  }));
}

const PUSH = { title: 'Hi', body: 'Hello' };
const HOOK = { url: 'https://example.test/', method: 'POST' };
const API_ATTRIBUTES = (attributes: unknown[]) => withData('api', 'start_by_api', { attributes });
const CONDITION = (condition: Record<string, unknown>) =>
  withData('evt', 'message_bus', { event_name: 'signup', event_conditions: [condition] });

describe('validateJourneyForStart', () => {
  it('accepts a journey using every point type and returns its points typed', () => {
    const result = validateJourneyForStart(JOURNEY, everyPointType());
    assert.ok(result.ok, result.ok ? '' : result.error);
    const wait = result.value.find((p) => p.uuid === 'wait');
    assert.equal(wait?.point_type === 'POINT_TYPE_WAIT' && wait.point_data.wait.delay_seconds, 3600);
  });

  it('accepts the smallest journey: an entry point straight to exit', () => {
    assert.equal(validateJourneyForStart(JOURNEY, minimalPoints()).ok, true);
  });

  const refusals: { rule: string; points: () => PointDraft[]; problem: string | RegExp }[] = [
    // journey-level
    {
      rule: 'at least one entry point',
      points: () => everyPointType().filter((p) => !['api', 'seg', 'evt'].includes(p.uuid)),
      problem: 'journey has no entry point (one of POINT_TYPE_START_BY_API, POINT_TYPE_START_BY_SEGMENT, POINT_TYPE_EVENT)',
    },
    {
      rule: 'unique point uuids',
      points: () => [...everyPointType(), point('exit', 'POINT_TYPE_EXIT', {}, {}, 'Second exit')],
      problem: 'point "Second exit" (exit): uuid is used by more than one point',
    },
    // fields per point type
    {
      rule: 'the point_data section of the type is present',
      points: () => withPoint(everyPointType(), 'push', (p) => ({ ...p, point_data: { send_sms: { body: 'x' } } })),
      problem: 'point "push" (push): point_data.send_push must be an object for POINT_TYPE_SEND_PUSH, got nothing',
    },
    {
      rule: 'wait sets one of its fields',
      points: () => withData('wait', 'wait', {}),
      problem: /^point "wait" \(wait\): wait must set exactly one of delay_seconds, until_time or until_date/,
    },
    {
      rule: 'wait sets only one of its fields',
      points: () => withData('wait', 'wait', { delay_seconds: 60, until_time: '10:00' }),
      problem: /^point "wait" \(wait\): wait must set exactly one of .*delay_seconds and until_time/,
    },
    {
      rule: 'wait.delay_seconds is a whole number',
      points: () => withData('wait', 'wait', { delay_seconds: '60' }),
      problem: /^point "wait" \(wait\): wait\.delay_seconds: "60" is not a whole number/,
    },
    {
      rule: 'wait.until_time is HH:mm',
      points: () => withData('wait', 'wait', { until_time: '25:00' }),
      problem: /^point "wait" \(wait\): wait\.until_time: "25:00" is not a time of day/,
    },
    {
      rule: 'wait.until_date is an ISO 8601 date that exists',
      points: () => withData('wait', 'wait', { until_date: '2030-02-30' }),
      problem: /^point "wait" \(wait\): wait\.until_date: "2030-02-30" is not a valid calendar date/,
    },
    {
      rule: 'start_by_api attribute names are not the names templates reserve',
      points: () => API_ATTRIBUTES([{ name: 'tags' }]),
      problem: /^point "api" \(api\): start_by_api\.attributes\[0\]\.name "tags" is reserved/,
    },
    {
      rule: 'start_by_api attribute names are unique',
      points: () => API_ATTRIBUTES([{ name: 'code' }, { name: 'code' }]),
      problem: /^point "api" \(api\): start_by_api\.attributes\[1\]\.name "code" is declared more than once/,
    },
    {
      rule: 'start_by_api attribute defaults are strings',
      points: () => API_ATTRIBUTES([{ name: 'code', default: 5 }]),
      problem: /^point "api" \(api\): start_by_api\.attributes\[0\]\.default must be a string/,
    },
    {
      rule: 'is_deactivated is a boolean',
      points: () => withData('api', 'start_by_api', { is_deactivated: 'no' }),
      problem: 'point "api" (api): start_by_api.is_deactivated must be true or false, got "no"',
    },
    {
      rule: 'start_by_segment has a filter',
      points: () => withData('seg', 'start_by_segment', { filter: '  ' }),
      problem: 'point "seg" (seg): start_by_segment.filter must not be empty',
    },
    {
      rule: 'start_by_segment.start_at is an ISO 8601 date-time',
      points: () => withData('seg', 'start_by_segment', { filter: 'A("TEST0-00001")', start_at: 'tomorrow' }),
      problem: /^point "seg" \(seg\): start_by_segment\.start_at: "tomorrow" is not an ISO 8601 date/,
    },
    {
      rule: 'boolean_splitter has a filter',
      points: () => withData('split', 'boolean_splitter', {}),
      problem: 'point "split" (split): boolean_splitter.filter must be a string, got nothing',
    },
    {
      rule: 'boolean_splitter.filter parses as seglang',
      points: () => withData('split', 'boolean_splitter', { filter: 'T("City", eq, "London") *' }),
      problem: 'point "split" (split): boolean_splitter.filter: invalid filter: expected A(...), T(...), AT(...) or "(" at position 26',
    },
    {
      rule: 'start_by_segment.filter parses as seglang',
      points: () => withData('seg', 'start_by_segment', { filter: 'T("City", frob, 1)' }),
      problem: 'point "seg" (seg): start_by_segment.filter: unknown operator "frob" at position 11',
    },
    {
      rule: 'event has an event_name',
      points: () => withData('evt', 'message_bus', { event_name: '' }),
      problem: /^point "evt" \(evt\): message_bus\.event_name must be a non-empty string/,
    },
    {
      rule: 'event condition operators are known',
      points: () => CONDITION({ attribute: 'plan', operator: 'like', value: 'p%' }),
      problem: /^point "evt" \(evt\): message_bus\.event_conditions\[0\]\.operator: "like" is not one of /,
    },
    {
      rule: 'event condition values fit the operator',
      points: () => CONDITION({ attribute: 'amount', operator: 'between', value: [10, 1] }),
      problem: /^point "evt" \(evt\): message_bus\.event_conditions\[0\]\.value: between needs \[min, max\]/,
    },
    {
      rule: 'presence conditions take no value',
      points: () => CONDITION({ attribute: 'amount', operator: 'any', value: 1 }),
      problem: /^point "evt" \(evt\): message_bus\.event_conditions\[0\]\.value: any takes no value/,
    },
    {
      rule: 'ab_splitter percents sum to 100',
      points: () =>
        withData('ab', 'ab_splitter', {
          branches: [
            { key: 'a', percent: 50 },
            { key: 'b', percent: 40 },
          ],
        }),
      problem: /^point "ab" \(ab\): ab_splitter\.branches percents must sum to 100/,
    },
    {
      rule: 'wait_event branches do not take the timeout output key',
      points: () => withData('wait-ev', 'wait_event', { branches: [{ key: 'default', event_name: 'x' }], timeout_seconds: 60 }),
      problem: /^point "wait-ev" \(wait-ev\): wait_event\.branches\[0\]\.key "default" is reserved for the timeout output/,
    },
    {
      rule: 'wait_event has a positive timeout',
      points: () => withData('wait-ev', 'wait_event', { branches: [{ key: 'bought', event_name: 'x' }], timeout_seconds: 0 }),
      problem: /^point "wait-ev" \(wait-ev\): wait_event\.timeout_seconds must be a whole number of seconds from 1/,
    },
    {
      rule: 'send_push title is a string',
      points: () => withData('push', 'send_push', { ...PUSH, title: 5 }),
      problem: 'point "push" (push): send_push.title must be a string, got 5',
    },
    {
      rule: 'send_push body is present',
      points: () => withData('push', 'send_push', { title: 'Hi' }),
      problem: 'point "push" (push): send_push.body must be a string, got nothing',
    },
    {
      rule: 'send_push data is an object',
      points: () => withData('push', 'send_push', { ...PUSH, data: ['x'] }),
      problem: 'point "push" (push): send_push.data must be an object, got a list',
    },
    {
      rule: 'send_email has a subject',
      points: () => withData('email', 'send_email', { body: 'x' }),
      problem: 'point "email" (email): send_email.subject must be a string, got nothing',
    },
    {
      rule: 'send_sms body is a string',
      points: () => withData('sms', 'send_sms', { body: ['x'] }),
      problem: 'point "sms" (sms): send_sms.body must be a string, got a list',
    },
    {
      rule: 'webhook method is GET or POST',
      points: () => withData('hook', 'webhook', { ...HOOK, method: 'PUT' }),
      problem: 'point "hook" (hook): webhook.method must be GET or POST, got "PUT"',
    },
    {
      rule: 'webhook url is http(s)',
      points: () => withData('hook', 'webhook', { ...HOOK, url: 'file:///etc/passwd' }),
      problem: 'point "hook" (hook): webhook.url must be an http:// or https:// URL, got "file:///etc/passwd"',
    },
    {
      rule: 'webhook url fixes its host before any template tag',
      points: () => withData('hook', 'webhook', { ...HOOK, url: 'http://hooks.example.invalid{{ p }}' }),
      problem:
        'point "hook" (hook): webhook.url must spell out its scheme, host and port before any template tag, ending them with "/" ' +
        '(e.g. https://hooks.example.com/{{ user_id }}), got "http://hooks.example.invalid{{ p }}"',
    },
    {
      rule: 'webhook url fixes its port before any template tag',
      points: () => withData('hook', 'webhook', { ...HOOK, url: 'http://hooks.example.com:{% if x %}81{% endif %}/' }),
      problem: /^point "hook" \(hook\): webhook\.url must spell out its scheme, host and port before any template tag/,
    },
    {
      rule: 'webhook url host is not a template',
      points: () => withData('hook', 'webhook', { ...HOOK, url: 'https://{{ tags.Host }}/hook' }),
      problem: /^point "hook" \(hook\): webhook\.url must spell out its scheme, host and port before any template tag/,
    },
    {
      rule: 'webhook url host is one the destination policy allows',
      points: () => withData('hook', 'webhook', { ...HOOK, url: 'http://0xa9fea9fe/latest/meta-data/' }),
      problem:
        'point "hook" (hook): webhook.url is refused: 169.254.169.254 is a link-local address (cloud metadata service); ' +
        'the operator can allow it with JOURNEYD_WEBHOOK_ALLOW',
    },
    {
      rule: 'webhook GET sends no body',
      points: () => withData('hook', 'webhook', { ...HOOK, method: 'GET', body: '{}' }),
      problem: 'point "hook" (hook): webhook.body is only sent with method POST',
    },
    {
      rule: 'webhook header names are HTTP tokens',
      points: () => withData('hook', 'webhook', { ...HOOK, headers: { 'X Bad': '1' } }),
      problem: 'point "hook" (hook): webhook.headers has an invalid header name "X Bad"',
    },
    {
      rule: 'webhook header values are strings',
      points: () => withData('hook', 'webhook', { ...HOOK, headers: { 'X-Count': 1 } }),
      problem: 'point "hook" (hook): webhook.headers.X-Count must be a string, got 1',
    },
    {
      rule: 'set_tags names at least one tag',
      points: () => withData('tags', 'set_tags', { tags: {} }),
      problem: 'point "tags" (tags): set_tags.tags must name at least one tag',
    },
    {
      rule: 'set_tags values are strings',
      points: () => withData('tags', 'set_tags', { tags: { Stage: 1 } }),
      problem: 'point "tags" (tags): set_tags.tags.Stage must be a string, got 1',
    },
    // templates
    {
      rule: 'send_push body parses as Liquid',
      points: () => withData('push', 'send_push', { ...PUSH, body: 'Hi {% if vip %}VIP' }),
      problem: 'point "push" (push): send_push.body is not a valid template: tag {% if vip %} not closed, line:1, col:4',
    },
    {
      rule: 'strings nested in send_push data parse as Liquid',
      points: () => withData('push', 'send_push', { ...PUSH, data: { deep: { list: ['ok', '{{ x'] } } }),
      problem: 'point "push" (push): send_push.data.deep.list[1] is not a valid template: output "{{ x" not closed, line:1, col:1',
    },
    {
      rule: 'send_email subject uses only known filters',
      points: () => withData('email', 'send_email', { subject: '{{ name | shout }}', body: 'x' }),
      problem: 'point "email" (email): send_email.subject is not a valid template: undefined filter: shout, line:1, col:1',
    },
    {
      rule: 'send_sms body cannot include files',
      points: () => withData('sms', 'send_sms', { body: "{% include 'secrets' %}" }),
      problem: 'point "sms" (sms): send_sms.body is not a valid template: tag "include" not found, line:1, col:1',
    },
    {
      rule: 'webhook url parses as Liquid',
      points: () => withData('hook', 'webhook', { ...HOOK, url: 'https://x.test/{{ user_id' }),
      problem: /^point "hook" \(hook\): webhook\.url is not a valid template: output "\{\{ user_id" not closed/,
    },
    {
      rule: 'webhook body parses as Liquid',
      points: () => withData('hook', 'webhook', { ...HOOK, body: '{% for x in y %}' }),
      problem: 'point "hook" (hook): webhook.body is not a valid template: tag {% for x in y %} not closed, line:1, col:1',
    },
    {
      rule: 'set_tags values parse as Liquid',
      points: () => withData('tags', 'set_tags', { tags: { Stage: '{{ }}' } }),
      problem: /^point "tags" \(tags\): set_tags\.tags\.Stage is not a valid template: /,
    },
    // outputs and wiring
    {
      rule: 'outputs are those of the point type',
      points: () => withOutputs('wait', { default: 'split', later: 'exit' }),
      problem: 'point "wait" (wait): output "later" is not an output of POINT_TYPE_WAIT (expected "default")',
    },
    {
      rule: 'each output key appears once',
      points: () =>
        withPoint(everyPointType(), 'wait', (p) => ({
          ...p,
          outputs: [
            { key: 'default', next_point_uuid: 'split' },
            { key: 'default', next_point_uuid: 'exit' },
          ],
        })),
      problem: 'point "wait" (wait): output "default" is set more than once',
    },
    {
      rule: 'default output is wired',
      points: () => withOutputs('push', {}),
      problem: 'point "push" (push): output "default" is not wired to a point',
    },
    {
      rule: 'an output with an empty next_point_uuid is not wired',
      points: () => withOutputs('push', { default: '' }),
      problem: 'point "push" (push): output "default" is not wired to a point',
    },
    {
      rule: 'boolean_splitter has output1',
      points: () => withOutputs('split', { default: 'ab' }),
      problem: 'point "split" (split): output "output1" is not wired to a point',
    },
    {
      rule: 'ab_splitter has one output per branch',
      points: () => withOutputs('ab', { a: 'sms' }),
      problem: 'point "ab" (ab): output "b" is not wired to a point',
    },
    {
      rule: 'ab_splitter has no default output',
      points: () => withOutputs('ab', { a: 'sms', b: 'hook', default: 'exit' }),
      problem: 'point "ab" (ab): output "default" is not an output of POINT_TYPE_AB_SPLITTER (expected "a", "b")',
    },
    {
      rule: 'wait_event has its timeout output',
      points: () => withOutputs('wait-ev', { bought: 'exit' }),
      problem: 'point "wait-ev" (wait-ev): output "default" is not wired to a point',
    },
    {
      rule: 'no dangling next_point_uuid',
      points: () => withOutputs('email', { default: 'nowhere' }),
      problem: 'point "email" (email): output "default" leads to unknown point "nowhere"',
    },
    {
      rule: 'nothing leads into an entry point',
      points: () => withOutputs('email', { default: 'api' }),
      problem:
        'point "email" (email): output "default" leads to entry point "api" (POINT_TYPE_START_BY_API); nothing may lead into an entry point',
    },
    {
      rule: 'exit points have no outputs',
      points: () => withOutputs('exit', { default: 'push' }),
      problem: 'point "exit" (exit): POINT_TYPE_EXIT has no outputs, but output "default" is set',
    },
    // graph
    {
      rule: 'every point is reachable from an entry point',
      points: () => [...everyPointType(), point('orphan', 'POINT_TYPE_SEND_SMS', { send_sms: { body: 'x' } }, { default: 'exit' })],
      problem: 'point "orphan" (orphan): cannot be reached from any entry point',
    },
    {
      rule: 'points reachable only from each other are unreachable',
      points: () => [
        ...everyPointType(),
        point('left', 'POINT_TYPE_WAIT', { wait: { delay_seconds: 60 } }, { default: 'right' }),
        point('right', 'POINT_TYPE_WAIT', { wait: { delay_seconds: 60 } }, { default: 'left' }),
      ],
      problem: 'point "left" (left): cannot be reached from any entry point',
    },
    {
      rule: 'a loop passes through a point that always waits',
      points: () => withOutputs('sms', { default: 'ab' }),
      problem:
        'point "ab" (ab): is on a loop that never waits (ab → sms → ab); a loop must pass through a WAIT with delay_seconds above 0 or a WAIT_EVENT',
    },
    {
      rule: 'a WAIT until a time of day does not make a loop wait',
      points: () =>
        withData('wait', 'wait', { until_time: '10:00' }).map((p) =>
          p.uuid === 'sms' ? { ...p, outputs: [{ key: 'default', next_point_uuid: 'wait' }] } : p,
        ),
      problem: /^point "wait" \(wait\): is on a loop that never waits \(wait → split → ab → sms → wait\)/,
    },
  ];

  for (const { rule, points, problem } of refusals) {
    it(`refuses naming the point: ${rule}`, () => {
      const actual = problemOf(points());
      if (typeof problem === 'string') assert.equal(actual, problem);
      else assert.match(actual, problem);
    });
  }

  it('accepts a loop through a WAIT with a delay', () => {
    const points = withOutputs('sms', { default: 'wait' });
    const result = validateJourneyForStart(JOURNEY, points);
    assert.ok(result.ok, result.ok ? '' : result.error);
  });

  it('ignores fields it does not know, keeping drafts from other tools valid', () => {
    const points = withData('push', 'send_push', { ...PUSH, badge: 3 }).map((p) => ({ ...p, position: { x: 1, y: 2 } }));
    assert.equal(validateJourneyForStart(JOURNEY, points).ok, true);
  });

  it('reports the first problem in list order', () => {
    const points = withData('email', 'send_email', { body: 'x' });
    const broken = withPoint(points, 'sms', (p) => ({ ...p, point_data: { send_sms: {} } }));
    assert.match(problemOf(broken), /^point "email" \(email\)/);
  });
});

describe('describePoint', () => {
  it('names a point by title and uuid, or by uuid alone when untitled', () => {
    assert.equal(describePoint({ uuid: 'p1', title: 'Say "hi"' }), 'point "Say \\"hi\\"" (p1)');
    assert.equal(describePoint({ uuid: 'p1' }), 'point (p1)');
    assert.equal(describePoint({ uuid: 'p1', title: ' ' }), 'point (p1)');
  });

  it('is what an untitled point is refused with', () => {
    const points = [...minimalPoints(), point('orphan', 'POINT_TYPE_EXIT', {}, {}, null)];
    assert.equal(problemOf(points), 'point (orphan): cannot be reached from any entry point');
  });
});

describe('expectedOutputKeys and templateFieldsOf', () => {
  const result = validateJourneyForStart(JOURNEY, everyPointType());
  assert.ok(result.ok);
  const byUuid = new Map(result.value.map((p) => [p.uuid, p]));
  const at = (uuid: string) => byUuid.get(uuid) ?? assert.fail(`no point ${uuid}`);

  it('lists the outputs each point type must have', () => {
    assert.deepEqual(expectedOutputKeys(at('split')), ['output1', 'default']);
    assert.deepEqual(expectedOutputKeys(at('ab')), ['a', 'b']);
    assert.deepEqual(expectedOutputKeys(at('wait-ev')), ['bought', 'default']);
    assert.deepEqual(expectedOutputKeys(at('exit')), []);
    assert.deepEqual(expectedOutputKeys(at('wait')), ['default']);
  });

  it('lists every templated field by its path', () => {
    const paths = (uuid: string) => templateFieldsOf(at(uuid)).map((f) => f.path);
    assert.deepEqual(paths('push'), ['send_push.title', 'send_push.body', 'send_push.data.link']);
    assert.deepEqual(paths('hook'), ['webhook.url', 'webhook.headers.X-Journey', 'webhook.body']);
    assert.deepEqual(paths('tags'), ['set_tags.tags.Stage', 'set_tags.tags.Promo']);
    assert.deepEqual(paths('wait'), []);
  });
});
