import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeEachBackend } from '../support/backends.js';
import { deviceClockAt, EIGHT_O_CLOCK_MS, exitPoint, NOON_MS, point, startEngineApp, type EngineApp } from './engine-harness.js';

/** Silent hours 22:00–08:00 on each device's clock, with devices placed a few seconds before 08:00 and at noon. */
describeEachBackend('engine: silent hours', (dialect) => {
  let app: EngineApp;
  let journey: string;
  let windowEnd: number;

  before(async () => {
    app = await startEngineApp(dialect);
    const late = deviceClockAt(EIGHT_O_CLOCK_MS - 3_000);
    const noon = deviceClockAt(NOON_MS);
    windowEnd = late.nextAt(EIGHT_O_CLOCK_MS);
    await app.device('registerDevice', {
      hwid: 'night-phone',
      userId: 'night',
      device_type: 1,
      push_token: 'tok-night',
      timezone: late.timezone,
    });
    await app.device('registerDevice', {
      hwid: 'day-phone',
      userId: 'day',
      device_type: 1,
      push_token: 'tok-day',
      timezone: noon.timezone,
    });
    await app.device('registerDevice', {
      hwid: 'both-phone',
      userId: 'both',
      device_type: 1,
      push_token: 'tok-both-night',
      timezone: late.timezone,
    });
    await app.device('registerDevice', {
      hwid: 'both-tablet',
      userId: 'both',
      device_type: 3,
      push_token: 'tok-both-day',
      timezone: noon.timezone,
    });
    await app.device('registerDevice', {
      hwid: 'sms-night',
      userId: 'texted',
      device_type: 18,
      push_token: '+15550100',
      timezone: late.timezone,
    });

    journey = await app.journey(
      [
        point('api', 'START_BY_API', { start_by_api: {} }, { default: 'push' }),
        point('push', 'SEND_PUSH', { send_push: { title: 'Good morning', body: 'for {{ user_id }}' } }, { default: 'sms' }),
        point('sms', 'SEND_SMS', { send_sms: { body: 'text for {{ user_id }}' } }, { default: 'exit' }),
        exitPoint(),
      ],
      { silent_hours: { from: '22:00', to: '08:00' } },
    );
    await app.enter(journey, { payload: { users: ['night', 'day', 'both', 'texted'] } });
  });
  after(() => app.close());

  it('sends at once to a device outside the window', async () => {
    const stats = await app.until(journey, 'the day user sent', (s) => s.point('push').pointStat.sent >= 1);
    assert.ok(stats.point('push').pointStat.sent >= 1);
    const [message] = await app.messages(journey, 'day');
    assert.equal(message?.recipient, 'tok-day');
  });

  it('holds a run whose only device is inside the window at the send point until the window ends', async () => {
    await app.until(
      journey,
      'every run exited and every message delivered',
      (s) => s.totals.exited === 4 && s.point('push').pointStat.sent === 4 && s.point('sms').pointStat.sent === 1,
    );
    const [message] = await app.messages(journey, 'night');
    assert.equal(message?.recipient, 'tok-night');
    // The message was produced only when the run left the point, after 08:00 on the device.
    assert.ok(
      Date.parse(message.created_at) >= windowEnd,
      `created ${message.created_at}, window ended ${new Date(windowEnd).toISOString()}`,
    );
  });

  it('with devices on both sides of the window, moves on at once and delays only the silent device', async () => {
    const messages = await app.messages(journey, 'both');
    const byRecipient = new Map(messages.map((m) => [m.recipient, m]));
    assert.deepEqual([...byRecipient.keys()].sort(), ['tok-both-day', 'tok-both-night']);
    const silent = byRecipient.get('tok-both-night')!;
    assert.ok(Date.parse(silent.created_at) < windowEnd, 'produced when the run passed the point, inside the window');
    assert.ok(
      Date.parse(silent.delivered_at) >= windowEnd,
      `delivered ${silent.delivered_at}, window ended ${new Date(windowEnd).toISOString()}`,
    );
  });

  it('applies the window to SMS too, and passes users without devices of the channel without a message', async () => {
    const [text] = await app.messages(journey, 'texted');
    assert.equal(text?.channel, 'sms');
    assert.equal(text?.recipient, '+15550100');
    assert.deepEqual(text?.content, { body: 'text for texted' });
    assert.ok(Date.parse(text.created_at) >= windowEnd);
    const stats = await app.statistics(journey);
    assert.deepEqual(stats.point('sms').pointStat, { sent: 1, failed: 0 });
    assert.deepEqual(stats.point('push').pointStat, { sent: 4, failed: 0 });
    assert.deepEqual([stats.point('sms').entered, stats.point('sms').passed], [4, 4]);
  });
});
