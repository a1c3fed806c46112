import { Type } from '@sinclair/typebox';
import { APPLICATION_CODE_PATTERN } from '../../domain/codes.js';
import {
  DEVICE_TYPES,
  HWID_MAX_LENGTH,
  PUSH_TOKEN_MAX_LENGTH,
  TIMEZONE_MAX_SECONDS,
  TIMEZONE_MIN_SECONDS,
  USER_ID_MAX_LENGTH,
} from '../../domain/device.js';

/**
 * The TypeBox schemas of the Device API's request fields, named as Pushwoosh
 * names them. Methods compose their `request` object from these so that a
 * field is checked the same way by every method.
 */

export const ApplicationCode = Type.String({ pattern: APPLICATION_CODE_PATTERN.source });

export const Hwid = Type.String({ minLength: 1, maxLength: HWID_MAX_LENGTH });

/** Empty means "no user": the device is its own user (Pushwoosh: "If empty, use hwid"). */
export const UserId = Type.String({ maxLength: USER_ID_MAX_LENGTH });

/** A user id that names an existing user. */
export const ExistingUserId = Type.String({ minLength: 1, maxLength: USER_ID_MAX_LENGTH });

export const DeviceType = Type.Integer({ enum: Object.keys(DEVICE_TYPES).map(Number) });

/** Empty means the device has no push token. */
export const PushToken = Type.String({ maxLength: PUSH_TOKEN_MAX_LENGTH });

/** Checked in full (ISO 639) by the domain's validateDeviceFields. */
export const Language = Type.String({ maxLength: 35 });

/** Offset from UTC in seconds. */
export const Timezone = Type.Integer({ minimum: TIMEZONE_MIN_SECONDS, maximum: TIMEZONE_MAX_SECONDS });

/** Tag name → value; values are checked against the tag's type by the store (domain planTagChange). */
export const Tags = Type.Record(Type.String(), Type.Unknown());
