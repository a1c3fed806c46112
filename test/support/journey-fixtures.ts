import type { PointDraft, PointType } from '../../src/domain/journey.js';

/** A point with its outputs given as `{key: next_point_uuid}`; titled with its uuid unless `title` is null. */
export function point(
  uuid: string,
  point_type: PointType,
  point_data: Record<string, unknown>,
  outputs: Record<string, string> = {},
  title: string | null = uuid,
): PointDraft {
  return {
    uuid,
    ...(title === null ? {} : { title }),
    point_type,
    point_data,
    outputs: Object.entries(outputs).map(([key, next_point_uuid]) => ({ key, next_point_uuid })),
  };
}

/**
 * A journey that uses every point type and passes `start`:
 *
 *   api ─┐
 *   seg ─┼─> wait ─> split ─output1─> push ─> email ─> exit
 *   evt ─┘             └─default─> ab ─a─> sms ─> tags ─> wait-ev ─bought─> exit
 *                                   └─b─> hook ────────┘     └─default─> exit
 */
export function everyPointType(): PointDraft[] {
  return [
    point(
      'api',
      'POINT_TYPE_START_BY_API',
      {
        start_by_api: { attributes: [{ name: 'promo_code', default: 'NONE' }], is_deactivated: false },
      },
      { default: 'wait' },
    ),
    point(
      'seg',
      'POINT_TYPE_START_BY_SEGMENT',
      {
        start_by_segment: { filter: 'A("TEST0-00001")', start_at: '2030-01-01T10:00:00Z' },
      },
      { default: 'wait' },
    ),
    point(
      'evt',
      'POINT_TYPE_EVENT',
      {
        message_bus: {
          event_name: 'signup',
          event_conditions: [{ attribute: 'plan', operator: 'in', value: ['pro', 'team'] }],
        },
      },
      { default: 'wait' },
    ),
    point('wait', 'POINT_TYPE_WAIT', { wait: { delay_seconds: 3600 } }, { default: 'split' }),
    point(
      'split',
      'POINT_TYPE_BOOLEAN_SPLITTER',
      {
        boolean_splitter: { filter: 'T("City", eq, "London")' },
      },
      { output1: 'push', default: 'ab' },
    ),
    point(
      'push',
      'POINT_TYPE_SEND_PUSH',
      {
        send_push: { title: 'Hi {{ tags.Name }}', body: 'Use {{ promo_code }}', data: { link: '/p/{{ user_id }}' } },
      },
      { default: 'email' },
    ),
    point(
      'email',
      'POINT_TYPE_SEND_EMAIL',
      {
        send_email: { subject: 'Welcome', body: '{% if promo_code %}Code: {{ promo_code }}{% endif %}' },
      },
      { default: 'exit' },
    ),
    point(
      'ab',
      'POINT_TYPE_AB_SPLITTER',
      {
        ab_splitter: {
          branches: [
            { key: 'a', percent: 50 },
            { key: 'b', percent: 50 },
          ],
        },
      },
      { a: 'sms', b: 'hook' },
    ),
    point('sms', 'POINT_TYPE_SEND_SMS', { send_sms: { body: 'Code {{ promo_code | upcase }}' } }, { default: 'tags' }),
    point(
      'hook',
      'POINT_TYPE_WEBHOOK',
      {
        webhook: {
          url: 'https://example.test/hook?u={{ user_id }}',
          method: 'POST',
          headers: { 'X-Journey': 'demo' },
          body: '{"user": "{{ user_id }}"}',
        },
      },
      { default: 'tags' },
    ),
    point(
      'tags',
      'POINT_TYPE_SET_TAGS',
      { set_tags: { tags: { Stage: 'nurtured', Promo: '{{ promo_code }}' } } },
      {
        default: 'wait-ev',
      },
    ),
    point(
      'wait-ev',
      'POINT_TYPE_WAIT_EVENT',
      {
        wait_event: {
          branches: [{ key: 'bought', event_name: 'purchase', event_conditions: [{ attribute: 'amount', operator: 'gte', value: 10 }] }],
          timeout_seconds: 86400,
        },
      },
      { bought: 'exit', default: 'exit' },
    ),
    point('exit', 'POINT_TYPE_EXIT', {}),
  ];
}

/** The smallest journey that starts: Start by API straight to exit. */
export function minimalPoints(): PointDraft[] {
  return [point('api', 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: 'exit' }), point('exit', 'POINT_TYPE_EXIT', {})];
}

/** `points` with the point `uuid` replaced by what `change` returns for a deep copy of it. */
export function withPoint(points: readonly PointDraft[], uuid: string, change: (p: PointDraft) => PointDraft): PointDraft[] {
  return points.map((p) => (p.uuid === uuid ? change(structuredClone(p)) : structuredClone(p)));
}
