import { Type } from '@sinclair/typebox';
import { MAX_EVENT_NAME_LENGTH } from '../../domain/event-conditions.js';
import type { EventSubject } from '../../store/events/index.js';
import { badRequest } from '../errors.js';
import { unknownDevice, userWithoutDevices } from './devices.js';
import { ExistingUserId, Hwid } from './fields.js';
import { deviceApiMethod } from './method.js';

/** 9999-12-31 23:59:59 UTC: later timestamps are not dates. */
const MAX_TIMESTAMP_SECONDS = 253_402_300_799;
const MAX_ATTRIBUTE_NAME_LENGTH = 128;

/**
 * Records an event of a device (`hwid`) or a user (`userId`). With an hwid the
 * event belongs to the device's user, whatever userId says. `timestampUTC`
 * (epoch seconds) is when it happened, default now; Pushwoosh's
 * `timestampCurrent` (local time) is not needed and ignored.
 */
export const postEvent = deviceApiMethod({
  name: 'postEvent',
  summary: 'Record an event of a user: it can enter the user into journeys and wake waiting runs',
  fields: {
    hwid: Type.Optional(Hwid),
    userId: Type.Optional(ExistingUserId),
    event: Type.String({ minLength: 1, maxLength: MAX_EVENT_NAME_LENGTH }),
    attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    timestampUTC: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_TIMESTAMP_SECONDS })),
  },
  async handle({ request, application, store }) {
    const attributes = request.attributes ?? {};
    const problem = attributesProblem(attributes);
    if (problem) throw badRequest(problem);
    const subject = subjectOf(request);
    const outcome = await store.events.record(application.id, {
      subject,
      name: request.event,
      attributes,
      occurredAt: request.timestampUTC === undefined ? Date.now() : request.timestampUTC * 1000,
    });
    if (!outcome.recorded) {
      throw 'hwid' in subject ? unknownDevice(subject.hwid) : userWithoutDevices(subject.userId);
    }
    return { code: String(outcome.eventId) };
  },
});

function subjectOf(request: { hwid?: string; userId?: string }): EventSubject {
  if (request.hwid !== undefined) return { hwid: request.hwid };
  if (request.userId !== undefined) return { userId: request.userId };
  throw badRequest('request.hwid is required (or request.userId for an event of a user)');
}

/**
 * Event attributes are flat: each value a string, a finite number, a boolean,
 * null, or a list of strings, numbers and booleans, which is what event
 * conditions can compare. Returns the first problem, naming the attribute.
 */
function attributesProblem(attributes: Readonly<Record<string, unknown>>): string | undefined {
  for (const [name, value] of Object.entries(attributes)) {
    if (name === '' || name.length > MAX_ATTRIBUTE_NAME_LENGTH) {
      return `request.attributes: attribute names must be 1 to ${MAX_ATTRIBUTE_NAME_LENGTH} characters`;
    }
    const scalarOk = (v: unknown) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (value === null || scalarOk(value)) continue;
    if (Array.isArray(value) && value.every(scalarOk)) continue;
    return `request.attributes.${name} must be a string, number, boolean, null or a list of strings, numbers and booleans`;
  }
  return undefined;
}
