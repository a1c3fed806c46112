import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { describeEachBackend } from '../support/backends.js';
import { startHttpSink, type HttpSink } from '../support/http-sink.js';
import { waitUntil } from '../support/wait-until.js';
import { deviceClockAt, EIGHT_O_CLOCK_MS, exitPoint, NOON_MS, point, startEngineApp, type EngineApp } from './engine-harness.js';

/** Long enough that entering and pausing fit before the wait ends, even on a busy machine. */
const WAIT_S = 6;
const SILENT_MARGIN_MS = WAIT_S * 1000 + 2_000;

describeEachBackend('engine: pause, resume, finish', (dialect) => {
  let app: EngineApp;
  let sink: HttpSink;

  before(async () => {
    app = await startEngineApp(dialect);
    sink = await startHttpSink();
  });
  after(async () => {
    await app.close();
    await sink.close();
  });

  describe('pause holds runs where they are and their undelivered messages; resume continues both', () => {
    let journey: string;
    let windowEnd: number;

    before(async () => {
      journey = await app.journey(
        [
          point('api', 'START_BY_API', { start_by_api: {} }, { default: 'push' }),
          point('push', 'SEND_PUSH', { send_push: { title: 'Hello', body: 'there' } }, { default: 'wait' }),
          point('wait', 'WAIT', { wait: { delay_seconds: WAIT_S } }, { default: 'hook' }),
          point('hook', 'WEBHOOK', { webhook: { url: `${sink.url}/paused/{{ user_id }}`, method: 'GET' } }, { default: 'exit' }),
          exitPoint(),
        ],
        { silent_hours: { from: '22:00', to: '08:00' } },
      );
      // The clocks are set just before entering, so that only entering and pausing use up the margin.
      const asleep = deviceClockAt(EIGHT_O_CLOCK_MS - SILENT_MARGIN_MS);
      windowEnd = asleep.nextAt(EIGHT_O_CLOCK_MS);
      const awake = deviceClockAt(NOON_MS);
      await app.device('registerDevice', {
        hwid: 'p-phone',
        userId: 'paused-user',
        device_type: 1,
        push_token: 'tok-awake',
        timezone: awake.timezone,
      });
      await app.device('registerDevice', {
        hwid: 'p-tablet',
        userId: 'paused-user',
        device_type: 3,
        push_token: 'tok-asleep',
        timezone: asleep.timezone,
      });
      await app.enter(journey, { payload: { users: ['paused-user'] } });
      await app.until(journey, 'the run waiting', (s) => s.point('wait').in_point === 1);
      await app.lifecycle('pause', journey);
    });

    it('refuses new entries while paused', async () => {
      const res = await app.request({
        method: 'POST',
        url: `/api/journey/${journey}/start/external`,
        payload: { payload: { users: ['paused-user'] } },
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().message, 'Journey is not running');
    });

    it('keeps the run at its point and the silent device message undelivered past their due times', async () => {
      // The wait ends before the window; give both a margin while paused.
      await waitUntil('the silent hours to be over', () => Date.now() > windowEnd + 1_500, SILENT_MARGIN_MS + 5_000);
      const stats = await app.statistics(journey);
      assert.deepEqual([stats.point('wait').in_point, stats.point('hook').entered], [1, 0]);
      assert.equal(stats.totals.in_journey, 1);
      assert.equal(sink.requests.filter((r) => r.path.startsWith('/paused/')).length, 0);
      const delivered = await app.messages(journey, 'paused-user');
      assert.deepEqual(
        delivered.map((m) => m.recipient),
        ['tok-awake'],
      );
    });

    it('after resume, the run goes on and the held message is delivered', async () => {
      await app.lifecycle('start', journey);
      const stats = await app.until(
        journey,
        'the run exited and both pushes sent',
        (s) => s.totals.exited === 1 && s.point('push').pointStat.sent === 2,
      );
      assert.deepEqual([stats.point('hook').entered, stats.point('hook').passed], [1, 1]);
      await waitUntil('the webhook', () => sink.requests.some((r) => r.path === '/paused/paused-user'));
      const delivered = await app.messages(journey, 'paused-user');
      const pushes = delivered.filter((m) => m.channel === 'push');
      assert.deepEqual(pushes.map((m) => m.recipient).sort(), ['tok-asleep', 'tok-awake']);
    });
  });

  describe('finish ends every run at once', () => {
    let journey: string;

    before(async () => {
      for (const user of ['f1', 'f2', 'f3']) {
        await app.device('registerDevice', { hwid: `${user}-phone`, userId: user, device_type: 1, push_token: `tok-${user}` });
      }
      journey = await app.journey([
        point('api', 'START_BY_API', { start_by_api: {} }, { default: 'wait' }),
        point('wait', 'WAIT', { wait: { delay_seconds: 3600 } }, { default: 'hook' }),
        point('hook', 'WEBHOOK', { webhook: { url: `${sink.url}/finished`, method: 'GET' } }, { default: 'exit' }),
        exitPoint(),
      ]);
      await app.enter(journey, { payload: { users: ['f1', 'f2', 'f3'] } });
      await app.until(journey, 'three runs waiting', (s) => s.point('wait').in_point === 3);
      await app.lifecycle('finish', journey);
    });

    it('counts the runs as exited, where they were, and none as passed', async () => {
      const stats = await app.statistics(journey);
      assert.deepEqual(stats.totals, { entered: 3, in_journey: 0, exited: 3 });
      assert.deepEqual([stats.point('wait').entered, stats.point('wait').in_point, stats.point('wait').passed], [3, 0, 0]);
      assert.equal(stats.point('exit').entered, 0);
    });

    it('lets nobody enter afterwards', async () => {
      const res = await app.request({
        method: 'POST',
        url: `/api/journey/${journey}/start/external`,
        payload: { payload: { users: ['f1'] } },
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().message, 'Journey is not running');
    });
  });

  describe('draft sends a paused journey back to the drafting table, ending its runs', () => {
    it('ends the runs of the journey', async () => {
      await app.device('registerDevice', { hwid: 'd1-phone', userId: 'd1', device_type: 1, push_token: 'tok-d1' });
      const journey = await app.journey([
        point('api', 'START_BY_API', { start_by_api: {} }, { default: 'wait' }),
        point('wait', 'WAIT', { wait: { delay_seconds: 3600 } }, { default: 'exit' }),
        exitPoint(),
      ]);
      await app.enter(journey, { payload: { users: ['d1'] } });
      await app.until(journey, 'the run waiting', (s) => s.point('wait').in_point === 1);
      await app.lifecycle('pause', journey);
      await app.lifecycle('draft', journey);
      const stats = await app.statistics(journey);
      assert.deepEqual(stats.totals, { entered: 1, in_journey: 0, exited: 1 });
    });
  });
});
