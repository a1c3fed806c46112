import { Type } from '@sinclair/typebox';
import { validateDeviceFields } from '../../domain/device.js';
import { badRequest } from '../errors.js';
import { DeviceType, Hwid, Language, PushToken, Tags, Timezone, UserId } from './fields.js';
import { deviceApiMethod } from './method.js';

/** Creates or updates a device; fields left out keep their stored values. */
export const registerDevice = deviceApiMethod({
  name: 'registerDevice',
  summary: 'Register a device (or update it): type, push token, user, language, timezone',
  fields: {
    hwid: Hwid,
    device_type: DeviceType,
    push_token: Type.Optional(PushToken),
    language: Type.Optional(Language),
    timezone: Type.Optional(Timezone),
    userId: Type.Optional(UserId),
    tags: Type.Optional(Tags),
  },
  async handle({ request, application, store }) {
    // The same field rules as `journeyd devices import`; empty userId and push_token mean "none" here.
    const checked = validateDeviceFields({ ...request, userId: request.userId || undefined, push_token: request.push_token || undefined });
    if (!checked.ok) throw badRequest(`request.${checked.error.message}`);
    await store.devices.register(application.id, {
      hwid: request.hwid,
      deviceType: checked.value.deviceType,
      pushToken: request.push_token,
      language: request.language,
      timezone: request.timezone,
      userId: request.userId,
      tags: request.tags,
    });
    return null;
  },
});

/** Removes the device's push token: it receives no push, but keeps its user, tags and journeys. */
export const unregisterDevice = deviceApiMethod({
  name: 'unregisterDevice',
  summary: "Remove a device's push token: it no longer receives pushes",
  fields: { hwid: Hwid },
  async handle({ request, application, store }) {
    if (!(await store.devices.unregister(application.id, request.hwid))) throw unknownDevice(request.hwid);
    return null;
  },
});

/**
 * Associates the device with `userId` (empty: the device becomes its own user
 * again). Pushwoosh allows this before registerDevice, so an unknown device is
 * created when the request gives its device_type. `tz_offset` is Pushwoosh's
 * name for `timezone` in this method; both are accepted.
 */
export const registerUser = deviceApiMethod({
  name: 'registerUser',
  summary: 'Associate a device with a user id',
  fields: {
    hwid: Hwid,
    userId: Type.Optional(UserId),
    device_type: Type.Optional(DeviceType),
    timezone: Type.Optional(Timezone),
    tz_offset: Type.Optional(Timezone),
  },
  async handle({ request, application, store }) {
    const outcome = await store.devices.assignUser(application.id, {
      hwid: request.hwid,
      userId: request.userId ?? '',
      deviceType: request.device_type,
      timezone: request.timezone ?? request.tz_offset,
    });
    if (outcome === 'unknown_device') {
      throw badRequest(`request.hwid "${request.hwid}" is not a registered device; send device_type to register it`);
    }
    return null;
  },
});

export function unknownDevice(hwid: string) {
  return badRequest(`request.hwid "${hwid}" is not a registered device of this application`);
}

export function userWithoutDevices(userId: string) {
  return badRequest(`request.userId "${userId}" has no registered device in this application`);
}
