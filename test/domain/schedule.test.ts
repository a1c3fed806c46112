import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  compileWait,
  deviceOffsetMs,
  dueAfterWait,
  localTimeOfDayMs,
  MAX_DELAY_SECONDS,
  MS_PER_DAY,
  MS_PER_MINUTE,
  parseClockTime,
  parseUntilDate,
  type WaitRule,
} from '../../src/domain/schedule.js';

const HOUR = 3_600;
const at = (iso: string) => Date.parse(iso);

function rule(wait: Parameters<typeof compileWait>[0]): WaitRule {
  const compiled = compileWait(wait);
  assert.ok(compiled.ok, compiled.ok ? '' : compiled.error);
  return compiled.value;
}

function compileError(wait: Parameters<typeof compileWait>[0]): string {
  const compiled = compileWait(wait);
  assert.ok(!compiled.ok, 'expected the wait to be refused');
  return compiled.error;
}

describe('parseClockTime', () => {
  it('reads HH:mm as milliseconds after midnight', () => {
    assert.deepEqual(parseClockTime('00:00'), { ok: true, value: 0 });
    assert.deepEqual(parseClockTime('08:05'), { ok: true, value: (8 * 60 + 5) * MS_PER_MINUTE });
    assert.deepEqual(parseClockTime('23:59'), { ok: true, value: (23 * 60 + 59) * MS_PER_MINUTE });
  });

  it('refuses anything else, quoting the value', () => {
    for (const bad of ['24:00', '12:60', '8:00', '08:00:00', ' 08:00', '', 'noon', 930, null]) {
      const parsed = parseClockTime(bad);
      assert.ok(!parsed.ok, `${JSON.stringify(bad)} should be refused`);
      assert.match(parsed.error, /is not a time of day "HH:mm" \(00:00 to 23:59\)/);
    }
    const parsed = parseClockTime('25:00');
    assert.ok(!parsed.ok);
    assert.equal(parsed.error, '"25:00" is not a time of day "HH:mm" (00:00 to 23:59)');
  });
});

describe('parseUntilDate', () => {
  it('reads an offset or Z as one instant for everyone', () => {
    assert.deepEqual(parseUntilDate('2025-12-24T18:00:00+01:00'), {
      ok: true,
      value: { kind: 'instant', atMs: at('2025-12-24T17:00:00Z') },
    });
    assert.deepEqual(parseUntilDate('2025-12-24T18:00Z'), {
      ok: true,
      value: { kind: 'instant', atMs: at('2025-12-24T18:00:00Z') },
    });
    assert.deepEqual(parseUntilDate('2025-12-24 18:00:30.250-0530'), {
      ok: true,
      value: { kind: 'instant', atMs: at('2025-12-24T23:30:30.250Z') },
    });
    assert.deepEqual(parseUntilDate('2025-12-24t18:00-03'), {
      ok: true,
      value: { kind: 'instant', atMs: at('2025-12-24T21:00:00Z') },
    });
  });

  it('reads a date-time without offset, or a bare date, as a wall-clock time', () => {
    assert.deepEqual(parseUntilDate('2025-12-24T18:00'), {
      ok: true,
      value: { kind: 'wall_clock', wallClockMs: at('2025-12-24T18:00:00Z') },
    });
    assert.deepEqual(parseUntilDate('2025-12-24'), {
      ok: true,
      value: { kind: 'wall_clock', wallClockMs: at('2025-12-24T00:00:00Z') },
    });
  });

  it('keeps years below 100 as written', () => {
    const parsed = parseUntilDate('0050-01-01T00:00Z');
    assert.ok(parsed.ok && parsed.value.kind === 'instant');
    assert.equal(new Date(parsed.value.atMs).getUTCFullYear(), 50);
  });

  it('accepts February 29th only in leap years', () => {
    assert.ok(parseUntilDate('2024-02-29').ok);
    const parsed = parseUntilDate('2025-02-29');
    assert.ok(!parsed.ok);
    assert.equal(parsed.error, '"2025-02-29" is not a valid calendar date and time of day');
  });

  it('refuses malformed dates, times and offsets with a message quoting the value', () => {
    const cases: [unknown, RegExp][] = [
      ['2025-13-01', /valid calendar date/],
      ['2025-12-24T24:00', /valid calendar date/],
      ['2025-12-24T12:00+24:00', /valid UTC offset/],
      ['24.12.2025', /is not an ISO 8601 date or date-time/],
      ['2025-12-24Z', /is not an ISO 8601 date or date-time/],
      ['tomorrow', /is not an ISO 8601 date or date-time/],
      [1735000000000, /^1735000000000 is not an ISO 8601/],
    ];
    for (const [text, message] of cases) {
      const parsed = parseUntilDate(text);
      assert.ok(!parsed.ok, `${JSON.stringify(text)} should be refused`);
      assert.match(parsed.error, message);
    }
  });
});

describe('compileWait', () => {
  it('needs exactly one of delay_seconds, until_time and until_date', () => {
    assert.equal(compileError({}), 'wait must set exactly one of delay_seconds, until_time or until_date; none is set');
    assert.equal(
      compileError({ delay_seconds: 5, until_time: '09:00' }),
      'wait must set exactly one of delay_seconds, until_time or until_date; delay_seconds and until_time are set',
    );
  });

  it('takes delay_seconds as a whole number of seconds from 0 to ten years', () => {
    assert.deepEqual(rule({ delay_seconds: 0 }), { kind: 'delay', delayMs: 0 });
    assert.deepEqual(rule({ delay_seconds: MAX_DELAY_SECONDS }), { kind: 'delay', delayMs: MAX_DELAY_SECONDS * 1000 });
    for (const bad of [-1, 1.5, MAX_DELAY_SECONDS + 1, '60']) {
      assert.match(
        compileError({ delay_seconds: bad as number }),
        /^wait\.delay_seconds: .* is not a whole number of seconds from 0 to 315360000$/,
      );
    }
  });

  it('names the field of a malformed time or date', () => {
    assert.equal(compileError({ until_time: '9am' }), 'wait.until_time: "9am" is not a time of day "HH:mm" (00:00 to 23:59)');
    assert.match(compileError({ until_date: '2025-02-30' }), /^wait\.until_date: "2025-02-30" is not a valid calendar/);
  });
});

describe('dueAfterWait', () => {
  it('adds delay_seconds to now', () => {
    const now = at('2025-03-01T10:00:00Z');
    assert.equal(dueAfterWait(rule({ delay_seconds: 90 }), now, 3 * HOUR), now + 90_000);
  });

  describe('until_time', () => {
    const nine = rule({ until_time: '09:00' });

    it('waits for the time later today in UTC when the device has no timezone', () => {
      assert.equal(dueAfterWait(nine, at('2025-03-01T07:30:00Z'), null), at('2025-03-01T09:00:00Z'));
    });

    it('waits for tomorrow once the minute HH:mm has passed', () => {
      assert.equal(dueAfterWait(nine, at('2025-03-01T09:01:00Z'), null), at('2025-03-02T09:00:00Z'));
      assert.equal(dueAfterWait(nine, at('2025-03-01T18:00:00Z'), 0), at('2025-03-02T09:00:00Z'));
    });

    it('is due at once while the clock still reads HH:mm', () => {
      assert.equal(dueAfterWait(nine, at('2025-03-01T09:00:00.000Z'), null), at('2025-03-01T09:00:00.000Z'));
      assert.equal(dueAfterWait(nine, at('2025-03-01T09:00:59.999Z'), null), at('2025-03-01T09:00:59.999Z'));
    });

    it("uses the device's offset", () => {
      // 05:00Z is 08:00 in UTC+3, so 09:00 there is 06:00Z.
      assert.equal(dueAfterWait(nine, at('2025-03-01T05:00:00Z'), 3 * HOUR), at('2025-03-01T06:00:00Z'));
      // 02:00Z on March 1st is 21:00 on February 28th in UTC-5; 22:00 there is 03:00Z.
      const ten = rule({ until_time: '22:00' });
      assert.equal(dueAfterWait(ten, at('2025-03-01T02:00:00Z'), -5 * HOUR), at('2025-03-01T03:00:00Z'));
      // 23:30Z is 09:00 next day in UTC+9:30: the clock reads 09:00, due at once.
      assert.equal(dueAfterWait(nine, at('2025-03-01T23:30:00Z'), 9.5 * HOUR), at('2025-03-01T23:30:00Z'));
    });

    it('treats an implausible offset as UTC', () => {
      assert.equal(dueAfterWait(nine, at('2025-03-01T07:30:00Z'), 30 * HOUR), at('2025-03-01T09:00:00Z'));
      assert.equal(deviceOffsetMs(Number.NaN), 0);
      assert.equal(deviceOffsetMs(-18 * HOUR), -18 * HOUR * 1000);
    });

    it('always lands on the next HH:mm of the device clock, within a day', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: at('2000-01-01T00:00:00Z'), max: at('2100-01-01T00:00:00Z') }),
          fc.integer({ min: -14 * HOUR, max: 14 * HOUR }),
          fc.integer({ min: 0, max: 23 }),
          fc.integer({ min: 0, max: 59 }),
          (now, offset, hour, minute) => {
            const time = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
            const target = (hour * 60 + minute) * MS_PER_MINUTE;
            const due = dueAfterWait(rule({ until_time: time }), now, offset);
            const localNow = localTimeOfDayMs(now, offset * 1000);
            if (localNow >= target && localNow < target + MS_PER_MINUTE) {
              assert.equal(due, now);
            } else {
              assert.ok(due > now && due - now < MS_PER_DAY);
              assert.equal(localTimeOfDayMs(due, offset * 1000), target);
            }
          },
        ),
      );
    });
  });

  describe('until_date', () => {
    it('waits for a future instant whatever the timezone', () => {
      const until = rule({ until_date: '2025-12-24T18:00:00+01:00' });
      const now = at('2025-12-01T00:00:00Z');
      assert.equal(dueAfterWait(until, now, null), at('2025-12-24T17:00:00Z'));
      assert.equal(dueAfterWait(until, now, 9 * HOUR), at('2025-12-24T17:00:00Z'));
    });

    it("reaches a wall-clock date at each device's own instant", () => {
      const until = rule({ until_date: '2025-12-24T18:00' });
      const now = at('2025-12-01T00:00:00Z');
      assert.equal(dueAfterWait(until, now, null), at('2025-12-24T18:00:00Z'));
      assert.equal(dueAfterWait(until, now, 2 * HOUR), at('2025-12-24T16:00:00Z'));
      assert.equal(dueAfterWait(until, now, -8 * HOUR), at('2025-12-25T02:00:00Z'));
    });

    it('is due at once when the date has passed', () => {
      const now = at('2026-01-01T00:00:00Z');
      assert.equal(dueAfterWait(rule({ until_date: '2025-12-24T18:00Z' }), now, null), now);
      assert.equal(dueAfterWait(rule({ until_date: '2025-12-31T23:30' }), now, -HOUR), now + 30 * MS_PER_MINUTE);
      assert.equal(dueAfterWait(rule({ until_date: '2025-12-31T23:30' }), now, HOUR), now);
    });
  });
});
