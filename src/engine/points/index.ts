import type { Point } from '../../domain/journey.js';
import { prepareAbSplitter } from './ab-splitter.js';
import { prepareBooleanSplitter } from './boolean-splitter.js';
import { prepareExit } from './exit.js';
import { preparePassThrough } from './pass-through.js';
import { prepareSend } from './send.js';
import { prepareSetTags } from './set-tags.js';
import type { PointContext, PreparedPoint } from './types.js';
import { prepareWait } from './wait.js';
import { prepareWaitEvent } from './wait-event.js';
import { prepareWebhook } from './webhook.js';

export type { PointContext, PointResult, PreparedPoint, RunDecision } from './types.js';

/** Compiles `point` for one batch: the executor of its type with its rules compiled. */
export function preparePoint(context: PointContext, point: Point): PreparedPoint | Promise<PreparedPoint> {
  switch (point.point_type) {
    case 'POINT_TYPE_START_BY_API':
    case 'POINT_TYPE_START_BY_SEGMENT':
    case 'POINT_TYPE_EVENT':
      return preparePassThrough();
    case 'POINT_TYPE_WAIT':
      return prepareWait(context, point);
    case 'POINT_TYPE_BOOLEAN_SPLITTER':
      return prepareBooleanSplitter(context, point);
    case 'POINT_TYPE_AB_SPLITTER':
      return prepareAbSplitter(context, point);
    case 'POINT_TYPE_WAIT_EVENT':
      return prepareWaitEvent(context, point);
    case 'POINT_TYPE_SEND_PUSH':
    case 'POINT_TYPE_SEND_EMAIL':
    case 'POINT_TYPE_SEND_SMS':
      return prepareSend(context, point);
    case 'POINT_TYPE_WEBHOOK':
      return prepareWebhook(context, point);
    case 'POINT_TYPE_SET_TAGS':
      return prepareSetTags(context, point);
    case 'POINT_TYPE_EXIT':
      return prepareExit();
  }
}
