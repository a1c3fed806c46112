import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { localTimeOfDayMs, MS_PER_MINUTE } from '../../src/domain/schedule.js';
import { compileSilentHours, earliestSendTime, type SilentHours, silentHoursEnd } from '../../src/domain/silent-hours.js';

const HOUR = 3_600;
const at = (iso: string) => Date.parse(iso);

function window(from: string, to: string): SilentHours {
  const compiled = compileSilentHours({ from, to });
  assert.ok(compiled.ok && compiled.value, 'expected a non-empty window');
  return compiled.value;
}

describe('compileSilentHours', () => {
  it('has no rule without silent_hours or with from equal to to', () => {
    assert.deepEqual(compileSilentHours(undefined), { ok: true, value: null });
    assert.deepEqual(compileSilentHours(null), { ok: true, value: null });
    assert.deepEqual(compileSilentHours({ from: '22:00', to: '22:00' }), { ok: true, value: null });
  });

  it('names the malformed field', () => {
    assert.deepEqual(compileSilentHours({ from: '22h', to: '08:00' }), {
      ok: false,
      error: 'silent_hours.from: "22h" is not a time of day "HH:mm" (00:00 to 23:59)',
    });
    assert.deepEqual(compileSilentHours({ from: '22:00' } as { from: string; to: string }), {
      ok: false,
      error: 'silent_hours.to: undefined is not a time of day "HH:mm" (00:00 to 23:59)',
    });
    assert.deepEqual(compileSilentHours('22:00-08:00' as unknown as { from: string; to: string }), {
      ok: false,
      error: 'silent_hours must be an object {"from": "HH:mm", "to": "HH:mm"}',
    });
  });
});

describe('silentHoursEnd', () => {
  describe('a window wrapping midnight, 22:00 to 08:00', () => {
    const night = window('22:00', '08:00');

    it('before midnight, ends at 08:00 the next morning', () => {
      assert.equal(silentHoursEnd(night, at('2025-03-01T23:15:00Z'), null), at('2025-03-02T08:00:00Z'));
    });

    it('after midnight, ends at 08:00 the same morning', () => {
      assert.equal(silentHoursEnd(night, at('2025-03-02T02:00:00Z'), null), at('2025-03-02T08:00:00Z'));
    });

    it('starts exactly at from and is over exactly at to', () => {
      assert.equal(silentHoursEnd(night, at('2025-03-01T22:00:00Z'), null), at('2025-03-02T08:00:00Z'));
      assert.equal(silentHoursEnd(night, at('2025-03-01T21:59:59.999Z'), null), null);
      assert.equal(silentHoursEnd(night, at('2025-03-02T07:59:59.999Z'), null), at('2025-03-02T08:00:00Z'));
      assert.equal(silentHoursEnd(night, at('2025-03-02T08:00:00Z'), null), null);
    });

    it('is not silent at midday', () => {
      assert.equal(silentHoursEnd(night, at('2025-03-01T12:00:00Z'), null), null);
    });
  });

  it('handles a window within one day, 13:00 to 15:00', () => {
    const siesta = window('13:00', '15:00');
    assert.equal(silentHoursEnd(siesta, at('2025-03-01T12:59:00Z'), null), null);
    assert.equal(silentHoursEnd(siesta, at('2025-03-01T13:00:00Z'), null), at('2025-03-01T15:00:00Z'));
    assert.equal(silentHoursEnd(siesta, at('2025-03-01T14:30:00Z'), null), at('2025-03-01T15:00:00Z'));
    assert.equal(silentHoursEnd(siesta, at('2025-03-01T15:00:00Z'), null), null);
    assert.equal(silentHoursEnd(siesta, at('2025-03-01T23:00:00Z'), null), null);
  });

  it("reads the window on the device's clock", () => {
    const night = window('22:00', '08:00');
    // 20:00Z is 05:00 next day in Tokyo (UTC+9): silent until 08:00 there, 23:00Z.
    assert.equal(silentHoursEnd(night, at('2025-03-01T20:00:00Z'), 9 * HOUR), at('2025-03-01T23:00:00Z'));
    // 03:00Z is 22:00 the day before in New York (UTC-5): silent until 13:00Z.
    assert.equal(silentHoursEnd(night, at('2025-03-01T03:00:00Z'), -5 * HOUR), at('2025-03-01T13:00:00Z'));
  });

  it('ends within the window length, at an instant that is outside it', () => {
    const lengthOf = (from: number, to: number) => (to > from ? to - from : to + 24 * 60 - from) * MS_PER_MINUTE;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 24 * 60 - 1 }),
        fc.integer({ min: 0, max: 24 * 60 - 1 }),
        fc.integer({ min: at('2000-01-01T00:00:00Z'), max: at('2100-01-01T00:00:00Z') }),
        fc.integer({ min: -14 * HOUR, max: 14 * HOUR }),
        (fromMinute, toMinute, now, offset) => {
          fc.pre(fromMinute !== toMinute);
          const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
          const rule = window(hhmm(fromMinute), hhmm(toMinute));
          const end = silentHoursEnd(rule, now, offset);
          if (end === null) return;
          assert.ok(end > now && end - now <= lengthOf(fromMinute, toMinute));
          assert.equal(localTimeOfDayMs(end, offset * 1000), toMinute * MS_PER_MINUTE);
          assert.equal(silentHoursEnd(rule, end, offset), null);
        },
      ),
    );
  });
});

describe('earliestSendTime', () => {
  it('gives each of a user’s devices its own send time', () => {
    const night = window('22:00', '08:00');
    const now = at('2025-03-01T23:00:00Z');
    const london = earliestSendTime(night, now, 0);
    const tokyo = earliestSendTime(night, now, 9 * HOUR);
    const losAngeles = earliestSendTime(night, now, -8 * HOUR);
    assert.equal(london, at('2025-03-02T08:00:00Z'));
    assert.equal(tokyo, now, 'it is 08:00 in Tokyo: send now');
    assert.equal(losAngeles, now, 'it is 15:00 in Los Angeles: send now');
  });

  it('is now when the journey has no silent hours', () => {
    const now = at('2025-03-01T23:00:00Z');
    assert.equal(earliestSendTime(null, now, 0), now);
  });
});
