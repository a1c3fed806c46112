/**
 * Platform names accepted in `A("CODE", [...])`, case-insensitive, and the
 * device types (docs/device-api.md) they stand for. A device type number is accepted too.
 */
export const PLATFORM_DEVICE_TYPES: Readonly<Record<string, number>> = {
  ios: 1,
  android: 3,
  osx: 7,
  windows: 8,
  amazon: 9,
  safari: 10,
  chrome: 11,
  firefox: 12,
  email: 14,
  huawei: 17,
  sms: 18,
  xiaomi: 19,
  whatsapp: 21,
};

const DEVICE_TYPES = new Set(Object.values(PLATFORM_DEVICE_TYPES));

/** `"iOS"` → 1, `3` → 3; anything else (unknown name or number, a boolean) → undefined. */
export function deviceTypeOfPlatform(platform: string | number | boolean): number | undefined {
  if (typeof platform === 'number') return DEVICE_TYPES.has(platform) ? platform : undefined;
  if (typeof platform !== 'string') return undefined;
  const name = platform.toLowerCase();
  return Object.hasOwn(PLATFORM_DEVICE_TYPES, name) ? PLATFORM_DEVICE_TYPES[name] : undefined;
}
