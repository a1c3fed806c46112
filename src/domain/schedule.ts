import type { PointDataByType } from './journey.js';

/**
 * Due times after a WAIT point. Everything here is pure: the engine passes the
 * current instant and the device's timezone; nothing reads the clock. A point's
 * `wait` data is compiled once (`compileWait`) and the compiled rule is applied
 * to every run of a batch (`dueAfterWait`). Rules and boundaries: docs/engine-rules.md.
 */

export const MS_PER_SECOND = 1_000;
export const MS_PER_MINUTE = 60_000;
export const MS_PER_DAY = 86_400_000;

/** The longest `delay_seconds` accepted: ten years of 365 days. */
export const MAX_DELAY_SECONDS = 10 * 365 * 86_400;

/** The widest UTC offset accepted from a device (ISO 8601 allows ±18:00); anything else is treated as UTC. */
export const MAX_TIMEZONE_OFFSET_SECONDS = 18 * 3_600;

/** A time of day as milliseconds after local midnight, whole minutes, 00:00 to 23:59. */
export type ClockTime = number & { readonly __clockTime: true };

export type ClockTimeParse = { ok: true; value: ClockTime } | { ok: false; error: string };

const CLOCK_TIME_PATTERN = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Parses `"HH:mm"` (24-hour, two digits each, 00:00 to 23:59). The error describes the value, not the field. */
export function parseClockTime(text: unknown): ClockTimeParse {
  const match = typeof text === 'string' ? CLOCK_TIME_PATTERN.exec(text) : null;
  if (!match) return { ok: false, error: `${describe(text)} is not a time of day "HH:mm" (00:00 to 23:59)` };
  const minutes = Number(match[1]) * 60 + Number(match[2]);
  return { ok: true, value: (minutes * MS_PER_MINUTE) as ClockTime };
}

/**
 * A device's offset from UTC in milliseconds. A device without a timezone
 * (null) is on UTC, and so is one whose stored offset is not a plausible UTC
 * offset (not a finite number or beyond ±18 h), rather than scheduling it at a
 * nonsensical instant.
 */
export function deviceOffsetMs(timezoneSeconds: number | null | undefined): number {
  if (typeof timezoneSeconds !== 'number' || !Number.isFinite(timezoneSeconds)) return 0;
  if (Math.abs(timezoneSeconds) > MAX_TIMEZONE_OFFSET_SECONDS) return 0;
  return Math.round(timezoneSeconds) * MS_PER_SECOND;
}

/** Milliseconds since local midnight at `nowMs` for a device `offsetMs` ahead of UTC. */
export function localTimeOfDayMs(nowMs: number, offsetMs: number): number {
  const ms = (nowMs + offsetMs) % MS_PER_DAY;
  return ms < 0 ? ms + MS_PER_DAY : ms;
}

/**
 * A parsed `until_date`. With an explicit offset (or `Z`) it is one instant for
 * every device; without one it is a wall-clock date and time that each device
 * reaches at its own instant, as `until_time` does.
 */
export type UntilDate =
  | { readonly kind: 'instant'; readonly atMs: number }
  | { readonly kind: 'wall_clock'; readonly wallClockMs: number };

export type UntilDateParse = { ok: true; value: UntilDate } | { ok: false; error: string };

const ISO_DATE_TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Parses ISO 8601 `YYYY-MM-DD`, `YYYY-MM-DDTHH:mm[:ss[.fff]]`, optionally
 * followed by `Z` or an offset `±HH[:mm]`; a space may replace the `T`.
 * The calendar date must exist (no February 30th).
 */
export function parseUntilDate(text: unknown): UntilDateParse {
  const match = typeof text === 'string' ? ISO_DATE_TIME_PATTERN.exec(text) : null;
  const fail = (why: string): UntilDateParse => ({ ok: false, error: `${describe(text)} is not ${why}` });
  if (!match) return fail('an ISO 8601 date or date-time (e.g. "2025-12-24T18:00:00+01:00")');
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', offset] = match;
  const wallClockMs = utcMs(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
    Number(fraction.slice(0, 3).padEnd(3, '0')),
  );
  if (wallClockMs === undefined) return fail('a valid calendar date and time of day');
  if (offset === undefined) return { ok: true, value: { kind: 'wall_clock', wallClockMs } };
  const offsetMs = parseOffsetMs(offset);
  if (offsetMs === undefined) return fail('a date-time with a valid UTC offset (±HH:mm, at most ±23:59)');
  return { ok: true, value: { kind: 'instant', atMs: wallClockMs - offsetMs } };
}

function utcMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): number | undefined {
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999.
  date.setUTCFullYear(year, month, day);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month || date.getUTCDate() !== day) return undefined;
  return date.getTime() + hour * 3_600_000 + minute * MS_PER_MINUTE + second * MS_PER_SECOND + ms;
}

function parseOffsetMs(offset: string): number | undefined {
  if (offset.toUpperCase() === 'Z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 3_600_000 + minutes * MS_PER_MINUTE);
}

/** A WAIT point's rule, compiled once per point and applied to every run that reaches it. */
export type WaitRule =
  | { readonly kind: 'delay'; readonly delayMs: number }
  | { readonly kind: 'until_time'; readonly timeOfDay: ClockTime }
  | { readonly kind: 'until_date'; readonly date: UntilDate };

export type WaitRuleCompile = { ok: true; rule: WaitRule } | { ok: false; error: string };

type WaitData = PointDataByType['POINT_TYPE_WAIT']['wait'];

const WAIT_FIELDS = ['delay_seconds', 'until_time', 'until_date'] as const;

/** Validates a WAIT point's `wait` data; errors name the field, e.g. `wait.until_time: "25:00" is not …`. */
export function compileWait(wait: WaitData): WaitRuleCompile {
  const present = WAIT_FIELDS.filter((field) => wait?.[field] !== undefined && wait?.[field] !== null);
  if (present.length !== 1) {
    const found = present.length === 0 ? 'none is set' : `${present.join(' and ')} are set`;
    return { ok: false, error: `wait must set exactly one of delay_seconds, until_time or until_date; ${found}` };
  }
  switch (present[0]) {
    case 'delay_seconds': {
      const seconds: unknown = wait.delay_seconds;
      if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 0 || seconds > MAX_DELAY_SECONDS) {
        return {
          ok: false,
          error: `wait.delay_seconds: ${describe(seconds)} is not a whole number of seconds from 0 to ${MAX_DELAY_SECONDS}`,
        };
      }
      return { ok: true, rule: { kind: 'delay', delayMs: seconds * MS_PER_SECOND } };
    }
    case 'until_time': {
      const parsed = parseClockTime(wait.until_time);
      return parsed.ok
        ? { ok: true, rule: { kind: 'until_time', timeOfDay: parsed.value } }
        : { ok: false, error: `wait.until_time: ${parsed.error}` };
    }
    default: {
      const parsed = parseUntilDate(wait.until_date);
      return parsed.ok
        ? { ok: true, rule: { kind: 'until_date', date: parsed.value } }
        : { ok: false, error: `wait.until_date: ${parsed.error}` };
    }
  }
}

/**
 * The instant a run that reaches a WAIT point at `nowMs` becomes due, for a
 * device `timezoneSeconds` ahead of UTC (null = UTC). Never earlier than `nowMs`.
 *
 * - delay: `nowMs + delay`.
 * - until_time: the next time the device's clock reads HH:mm. While the clock
 *   still reads HH:mm (any second of that minute) the run is due at once;
 *   after that minute it waits for HH:mm tomorrow.
 * - until_date: that instant (or that wall-clock time on the device); a date
 *   already past is due at once.
 */
export function dueAfterWait(rule: WaitRule, nowMs: number, timezoneSeconds: number | null): number {
  switch (rule.kind) {
    case 'delay':
      return nowMs + rule.delayMs;
    case 'until_time':
      return nextTimeOfDay(rule.timeOfDay, nowMs, deviceOffsetMs(timezoneSeconds));
    case 'until_date': {
      const date = rule.date;
      const at = date.kind === 'instant' ? date.atMs : date.wallClockMs - deviceOffsetMs(timezoneSeconds);
      return at > nowMs ? at : nowMs;
    }
  }
}

function nextTimeOfDay(timeOfDay: ClockTime, nowMs: number, offsetMs: number): number {
  const local = localTimeOfDayMs(nowMs, offsetMs);
  if (local < timeOfDay) return nowMs + (timeOfDay - local);
  if (local < timeOfDay + MS_PER_MINUTE) return nowMs;
  return nowMs + (timeOfDay + MS_PER_DAY - local);
}

function describe(value: unknown): string {
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- JSON.stringify gives undefined only for a function or a symbol, which String names.
  return value === undefined ? 'undefined' : JSON.stringify(value) ?? String(value);
}
