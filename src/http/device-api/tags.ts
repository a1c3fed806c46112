import { Type } from '@sinclair/typebox';
import { isTagType, MAX_TAG_NAME_LENGTH, TAG_TYPE_NAMES } from '../../domain/tags.js';
import type { DeviceTarget } from '../../store/devices/index.js';
import { badRequest } from '../errors.js';
import { unknownDevice, userWithoutDevices } from './devices.js';
import { ExistingUserId, Hwid, Tags } from './fields.js';
import { deviceApiMethod } from './method.js';

const TagName = Type.String({ minLength: 1, maxLength: MAX_TAG_NAME_LENGTH });
const TagTypeCode = Type.Integer({ enum: Object.keys(TAG_TYPE_NAMES).map(Number) });

/** Tag calls address one device by `hwid`, or every device of a user by `userId`; hwid wins when both are given. */
const targetFields = { hwid: Type.Optional(Hwid), userId: Type.Optional(ExistingUserId) };

function targetOf(request: { hwid?: string; userId?: string }): DeviceTarget {
  if (request.hwid !== undefined) return { hwid: request.hwid };
  if (request.userId !== undefined) return { userId: request.userId };
  throw badRequest('request.hwid is required (or request.userId to address every device of a user)');
}

function noSuchTarget(target: DeviceTarget) {
  return 'hwid' in target ? unknownDevice(target.hwid) : userWithoutDevices(target.userId);
}

/**
 * Sets, replaces or removes (null) tag values; an undeclared tag is declared
 * with the type its value implies. A List tag also takes
 * `{"operation": "append" | "remove", "value": [...]}`.
 */
export const setTags = deviceApiMethod({
  name: 'setTags',
  summary: "Set tag values on a device (or on all of a user's devices)",
  fields: { ...targetFields, tags: Tags },
  async handle({ request, application, store }) {
    const target = targetOf(request);
    if (!(await store.devices.setTags(application.id, target, request.tags))) throw noSuchTarget(target);
    return null;
  },
});

/** The device's (or user's) tags decoded: `{"result": {"City": "London", "Interests": ["a", "b"]}}`. */
export const getTags = deviceApiMethod({
  name: 'getTags',
  summary: "Read a device's (or a user's) tag values",
  fields: targetFields,
  async handle({ request, application, store }) {
    const target = targetOf(request);
    const tags = await store.devices.getTags(application.id, target);
    if (!tags) throw noSuchTarget(target);
    return { result: tags };
  },
});

/**
 * Declares a tag with a type: Pushwoosh's `{"tag": {"name", "type"}}`, or
 * `name` and `type` directly in the request. Declaring an existing tag with
 * its own type again is accepted; with another type it is refused, because the
 * values already stored are encoded for the first type.
 */
export const addTag = deviceApiMethod({
  name: 'addTag',
  summary: 'Declare a tag and its type',
  fields: {
    tag: Type.Optional(Type.Object({ name: TagName, type: TagTypeCode })),
    name: Type.Optional(TagName),
    type: Type.Optional(TagTypeCode),
  },
  async handle({ request, application, store }) {
    const tag = request.tag ?? flatTag(request);
    // The schema's enum already holds type to 1–7; this narrows it for the compiler.
    if (!isTagType(tag.type)) throw badRequest(`request.tag.type must be one of 1–7, got ${tag.type}`);
    const declared = await store.tags.declare(application.id, tag.name, tag.type);
    if (declared.outcome === 'conflict') {
      throw badRequest(`request.tag.type: tag "${tag.name}" is already declared as ${TAG_TYPE_NAMES[declared.definition.type]}`);
    }
    return { result: true };
  },
});

function flatTag(request: { name?: string; type?: number }): { name: string; type: number } {
  if (request.name === undefined) throw badRequest('request.tag is required: {"name", "type"}');
  if (request.type === undefined) throw badRequest('request.type is required');
  return { name: request.name, type: request.type };
}

/** The application's declared tags: `{"tags": [{"name", "type"}]}`, by name. */
export const listTags = deviceApiMethod({
  name: 'listTags',
  summary: "List the application's tags and their types",
  fields: {},
  async handle({ application, store }) {
    const definitions = await store.tags.list(application.id);
    return { tags: definitions.map(({ name, type }) => ({ name, type })) };
  },
});
