import { err, ok, type Result } from './result.js';
import { unstorableTextProblem } from './text.js';

/**
 * The rules for a device's own fields (docs/device-api.md), shared by every way a
 * device enters journeyd: the Device API (registerDevice, registerUser) and
 * `journeyd devices import`. Tags are validated separately by `tags.ts`.
 */

/** Pushwoosh platform codes. */
export const DEVICE_TYPES = {
  1: 'iOS',
  3: 'Android',
  7: 'OS X',
  8: 'Windows',
  9: 'Amazon',
  10: 'Safari',
  11: 'Chrome',
  12: 'Firefox',
  14: 'Email',
  17: 'Huawei',
  18: 'SMS',
  19: 'Xiaomi',
  21: 'WhatsApp',
} as const;

export type DeviceType = keyof typeof DEVICE_TYPES;

const DEVICE_TYPE_LIST = Object.keys(DEVICE_TYPES).map(Number).join(', ');

export function isDeviceType(value: unknown): value is DeviceType {
  return typeof value === 'number' && Object.hasOwn(DEVICE_TYPES, value);
}

export const HWID_MAX_LENGTH = 255;
export const USER_ID_MAX_LENGTH = 255;
export const PUSH_TOKEN_MAX_LENGTH = 4096;
/** UTC−12:00 … UTC+14:00, the offsets in use anywhere. */
export const TIMEZONE_MIN_SECONDS = -12 * 3600;
export const TIMEZONE_MAX_SECONDS = 14 * 3600;
/** ISO 639 language, optionally with a region or script: "en", "pt-BR", "zh_Hant". */
const LANGUAGE_PATTERN = /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$/;
const LANGUAGE_MAX_LENGTH = 35;

/** A device's fields as a request or a file row gives them, before validation. */
export interface DeviceFieldsInput {
  readonly hwid?: unknown;
  readonly userId?: unknown;
  readonly device_type?: unknown;
  readonly push_token?: unknown;
  readonly language?: unknown;
  readonly timezone?: unknown;
}

/**
 * Validated device fields. An optional field that was absent (or null) is
 * `undefined`: a new device stores nothing for it (its userId becomes its hwid),
 * an existing device keeps what it has. Empty strings follow Pushwoosh: an empty
 * userId names no user (each method says what that means for it) and an empty
 * push_token means the device has no push token.
 */
export interface DeviceFields {
  readonly hwid: string;
  readonly userId: string | undefined;
  readonly deviceType: DeviceType;
  readonly pushToken: string | undefined;
  readonly language: string | undefined;
  readonly timezone: number | undefined;
}

/** The first invalid field of a device, and what is wrong with it (the message starts with the field's name). */
export interface DeviceFieldProblem {
  readonly field: keyof DeviceFieldsInput;
  readonly message: string;
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function absent(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

function invalid(field: keyof DeviceFieldsInput, message: string): Result<DeviceFields, DeviceFieldProblem> {
  return err({ field, message });
}

/**
 * Checks hwid (required, non-empty string), device_type (required, a known
 * platform code), userId and push_token (optional strings), language (optional
 * ISO 639 code) and timezone (optional integer seconds from UTC). Strings must
 * be storable as sent (`unstorableTextProblem`).
 * The error names the field and what is wrong with it.
 */
export function validateDeviceFields(input: DeviceFieldsInput): Result<DeviceFields, DeviceFieldProblem> {
  const { hwid, userId, device_type: deviceType, push_token: pushToken, language, timezone } = input;

  if (typeof hwid !== 'string' || hwid === '') return invalid('hwid', 'hwid is required and must be a non-empty string');
  if (hwid.length > HWID_MAX_LENGTH) return invalid('hwid', `hwid must be at most ${HWID_MAX_LENGTH} characters`);
  const hwidText = unstorableTextProblem(hwid);
  if (hwidText) return invalid('hwid', `hwid ${hwidText}`);

  if (deviceType === undefined || deviceType === null) return invalid('device_type', 'device_type is required');
  if (!isDeviceType(deviceType)) {
    return invalid('device_type', `device_type must be one of ${DEVICE_TYPE_LIST}; got ${show(deviceType)}`);
  }

  if (!absent(userId)) {
    if (typeof userId !== 'string') return invalid('userId', `userId must be a string; got ${show(userId)}`);
    if (userId.length > USER_ID_MAX_LENGTH) {
      return invalid('userId', `userId must be at most ${USER_ID_MAX_LENGTH} characters`);
    }
    const userIdText = unstorableTextProblem(userId);
    if (userIdText) return invalid('userId', `userId ${userIdText}`);
  }
  if (!absent(pushToken)) {
    if (typeof pushToken !== 'string') return invalid('push_token', `push_token must be a string; got ${show(pushToken)}`);
    if (pushToken.length > PUSH_TOKEN_MAX_LENGTH) {
      return invalid('push_token', `push_token must be at most ${PUSH_TOKEN_MAX_LENGTH} characters`);
    }
    const pushTokenText = unstorableTextProblem(pushToken);
    if (pushTokenText) return invalid('push_token', `push_token ${pushTokenText}`);
  }
  if (!absent(language)) {
    if (typeof language !== 'string' || language.length > LANGUAGE_MAX_LENGTH || !LANGUAGE_PATTERN.test(language)) {
      return invalid('language', `language must be an ISO 639 code such as "en" or "pt-BR"; got ${show(language)}`);
    }
  }
  if (!absent(timezone)) {
    if (typeof timezone !== 'number' || !Number.isInteger(timezone) || timezone < TIMEZONE_MIN_SECONDS || timezone > TIMEZONE_MAX_SECONDS) {
      return invalid(
        'timezone',
        `timezone must be an integer offset from UTC in seconds, ${TIMEZONE_MIN_SECONDS} to ${TIMEZONE_MAX_SECONDS}; got ${show(timezone)}`,
      );
    }
  }

  return ok({
    hwid,
    userId: absent(userId) ? undefined : userId,
    deviceType,
    pushToken: absent(pushToken) ? undefined : pushToken,
    language: absent(language) ? undefined : language,
    timezone: absent(timezone) ? undefined : timezone,
  });
}
