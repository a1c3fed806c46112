import type { Point } from './journey.js';

/** One templated field of a point, named by its path under `point_data`. */
export interface TemplateField {
  readonly path: string;
  readonly template: string;
}

/**
 * Every field of a point that is a Liquid template: send_push title, body and
 * every string in `data` at any depth; send_email subject and body; send_sms
 * body; webhook url, header values and body; set_tags values.
 */
export function templateFieldsOf(point: Point): TemplateField[] {
  switch (point.point_type) {
    case 'POINT_TYPE_SEND_PUSH': {
      const { title, body, data } = point.point_data.send_push;
      return [
        { path: 'send_push.title', template: title },
        { path: 'send_push.body', template: body },
        ...(data === undefined ? [] : stringsIn(data, 'send_push.data')),
      ];
    }
    case 'POINT_TYPE_SEND_EMAIL': {
      const { subject, body } = point.point_data.send_email;
      return [
        { path: 'send_email.subject', template: subject },
        { path: 'send_email.body', template: body },
      ];
    }
    case 'POINT_TYPE_SEND_SMS':
      return [{ path: 'send_sms.body', template: point.point_data.send_sms.body }];
    case 'POINT_TYPE_WEBHOOK': {
      const { url, headers, body } = point.point_data.webhook;
      return [
        { path: 'webhook.url', template: url },
        ...Object.entries(headers ?? {}).map(([name, value]) => ({ path: `webhook.headers.${name}`, template: value })),
        ...(body === undefined ? [] : [{ path: 'webhook.body', template: body }]),
      ];
    }
    case 'POINT_TYPE_SET_TAGS':
      return Object.entries(point.point_data.set_tags.tags).map(([name, value]) => ({
        path: `set_tags.tags.${name}`,
        template: value,
      }));
    default:
      return [];
  }
}

function stringsIn(value: unknown, path: string): TemplateField[] {
  if (typeof value === 'string') return [{ path, template: value }];
  if (Array.isArray(value)) return value.flatMap((item, index) => stringsIn(item, `${path}[${index}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => stringsIn(item, `${path}.${key}`));
  }
  return [];
}
