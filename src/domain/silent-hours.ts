import type { JourneyParams } from './journey.js';
import { type ClockTime, deviceOffsetMs, localTimeOfDayMs, MS_PER_DAY, parseClockTime } from './schedule.js';
import { err, ok, type Result } from './result.js';

/**
 * Journey `params.silent_hours`: a daily window, in each device's own
 * timezone, during which no message is sent to that device. The window is
 * [from, to): a device whose clock reads exactly `from` is silent, one reading
 * exactly `to` may be sent to. `from` later than `to` wraps past midnight.
 * `from` equal to `to` is an empty window (nothing is silenced). Rules and
 * examples: docs/engine-rules.md.
 */
export interface SilentHours {
  readonly from: ClockTime;
  readonly to: ClockTime;
}

/**
 * Validates `params.silent_hours` once per journey; errors name the field, e.g. `silent_hours.from: …`.
 * The rule is null when the journey has no silent hours or an empty window.
 */
export function compileSilentHours(silentHours: JourneyParams['silent_hours'] | null): Result<SilentHours | null> {
  if (silentHours === undefined || silentHours === null) return ok(null);
  if (typeof silentHours !== 'object' || Array.isArray(silentHours)) {
    return err('silent_hours must be an object {"from": "HH:mm", "to": "HH:mm"}');
  }
  const from = parseClockTime(silentHours.from);
  if (!from.ok) return err(`silent_hours.from: ${from.error}`);
  const to = parseClockTime(silentHours.to);
  if (!to.ok) return err(`silent_hours.to: ${to.error}`);
  return ok(from.value === to.value ? null : { from: from.value, to: to.value });
}

/**
 * If a device `timezoneSeconds` ahead of UTC (null = UTC) is inside the window
 * at `nowMs`, the instant the window ends; otherwise null.
 */
export function silentHoursEnd(rule: SilentHours, nowMs: number, timezoneSeconds: number | null): number | null {
  const local = localTimeOfDayMs(nowMs, deviceOffsetMs(timezoneSeconds));
  const { from, to } = rule;
  const inside = from < to ? local >= from && local < to : local >= from || local < to;
  if (!inside) return null;
  return nowMs + (local < to ? to - local : to + MS_PER_DAY - local);
}

/**
 * The earliest instant a message produced at `nowMs` may be sent to one
 * device: `nowMs` outside the window (or with no silent hours), the window's
 * end inside it. A user's devices are evaluated one by one, so a message to a
 * device in London may leave while the same user's device in Tokyo waits.
 */
export function earliestSendTime(rule: SilentHours | null, nowMs: number, timezoneSeconds: number | null): number {
  return rule === null ? nowMs : (silentHoursEnd(rule, nowMs, timezoneSeconds) ?? nowMs);
}
