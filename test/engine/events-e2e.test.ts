import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import { describeEachBackend } from '../support/backends.js';
import { startHttpSink, type HttpSink } from '../support/http-sink.js';
import { waitUntil } from '../support/wait-until.js';
import { exitPoint, point, startEngineApp, type EngineApp } from '../e2e/engine-harness.js';

/**
 * Event and segment entry and drop-users with the whole engine running (entry
 * worker, segment worker, scheduler, dispatcher), observed at a webhook sink
 * and in the statistics.
 */
describeEachBackend('entry by event and segment, and drop-users, end to end', (dialect) => {
  let app: EngineApp;
  let sink: HttpSink;
  let segments: EntryWorker;

  before(async () => {
    app = await startEngineApp(dialect);
    sink = await startHttpSink();
    segments = new EntryWorker(app.store, { claims: 'segments', logger: createLogger('silent') });
    await segments.start();
  });
  after(async () => {
    await segments.stop();
    await app.close();
    await sink.close();
  });

  const hits = (path: string) =>
    sink.requests.filter((r) => r.path.startsWith(`/${path}/`)).map((r) => `${r.path.slice(path.length + 2)}${r.body && ` ${r.body}`}`);

  describe('a postEvent enters its user, whose webhook renders the event attributes', () => {
    let journey: string;
    before(async () => {
      await app.device('registerDevice', { hwid: 'ev-ann-hw', userId: 'ev-ann', device_type: 3 });
      await app.device('registerDevice', { hwid: 'ev-bob-hw', userId: 'ev-bob', device_type: 3 });
      journey = await app.journey([
        point(
          'signup',
          'EVENT',
          { message_bus: { event_name: 'signup', event_conditions: [{ attribute: 'plan', operator: 'in', value: ['pro', 'team'] }] } },
          { default: 'hook' },
        ),
        point(
          'hook',
          'WEBHOOK',
          { webhook: { url: `${sink.url}/welcome/{{ user_id }}`, method: 'POST', body: 'plan={{ plan }}' } },
          {
            default: 'exit',
          },
        ),
        exitPoint(),
      ]);
    });

    it('sends one webhook for the matching event and none for the other', async () => {
      await app.device('postEvent', { userId: 'ev-ann', event: 'signup', attributes: { plan: 'pro' } });
      await app.device('postEvent', { userId: 'ev-bob', event: 'signup', attributes: { plan: 'free' } });
      const stats = await app.until(journey, 'the run to exit', (s) => s.totals.exited === 1);
      await waitUntil('the welcome webhook', () => hits('welcome').length === 1);
      assert.deepEqual(hits('welcome'), ['ev-ann plan=pro']);
      assert.deepEqual(stats.totals, { entered: 1, in_journey: 0, exited: 1 });
      assert.deepEqual([stats.point('signup').entered, stats.point('signup').passed], [1, 1]);
    });

    it('enters the user again once the earlier run has ended', async () => {
      await app.device('postEvent', { userId: 'ev-ann', event: 'signup', attributes: { plan: 'team' } });
      await app.until(journey, 'the second run to exit', (s) => s.totals.exited === 2);
      await waitUntil('the second welcome webhook', () => hits('welcome').length === 2);
      assert.deepEqual(hits('welcome'), ['ev-ann plan=pro', 'ev-ann plan=team']);
    });
  });

  describe('a segment enters at start_at', () => {
    let journey: string;
    let startAt: number;
    before(async () => {
      for (const [user, city] of [
        ['sg-ann', 'Oslo'],
        ['sg-bob', 'Oslo'],
        ['sg-cid', 'Rome'],
      ] as const) {
        await app.device('registerDevice', { hwid: `${user}-hw`, userId: user, device_type: 3, tags: { Town: city } });
      }
      startAt = Date.now() + 1_500;
      journey = await app.journey([
        point(
          'seg',
          'START_BY_SEGMENT',
          { start_by_segment: { filter: 'T("Town", eq, "Oslo")', start_at: new Date(startAt).toISOString() } },
          { default: 'hook' },
        ),
        point('hook', 'WEBHOOK', { webhook: { url: `${sink.url}/segment/{{ user_id }}`, method: 'GET' } }, { default: 'exit' }),
        exitPoint(),
      ]);
    });

    it('sends a webhook for each matching user, none before start_at', async () => {
      await waitUntil('both segment webhooks', () => hits('segment').length === 2);
      assert.ok(Date.now() >= startAt);
      assert.deepEqual(hits('segment').sort(), ['sg-ann', 'sg-bob']);
      const stats = await app.until(
        journey,
        'both runs to exit and both webhooks to be logged',
        (s) => s.totals.exited === 2 && s.point('hook').pointStat.sent === 2,
      );
      assert.deepEqual([stats.point('seg').entered, stats.point('seg').passed], [2, 2]);
    });
  });

  describe('drop-users stops a waiting run', () => {
    let journey: string;
    before(async () => {
      for (const user of ['dr-keep', 'dr-drop']) {
        await app.device('registerDevice', { hwid: `${user}-hw`, userId: user, device_type: 3 });
      }
      journey = await app.journey([
        point('api', 'START_BY_API', { start_by_api: {} }, { default: 'wait' }),
        point('wait', 'WAIT', { wait: { delay_seconds: 2 } }, { default: 'hook' }),
        point('hook', 'WEBHOOK', { webhook: { url: `${sink.url}/after-wait/{{ user_id }}`, method: 'GET' } }, { default: 'exit' }),
        exitPoint(),
      ]);
      await app.enter(journey, { payload: { users: ['dr-keep', 'dr-drop'] } });
      await app.until(journey, 'both runs waiting', (s) => s.point('wait').in_point === 2);
    });

    it('sends nothing further to the dropped user', async () => {
      const res = await app.request({
        method: 'POST',
        url: '/api/journey/drop-users/external',
        payload: { user_ids: ['dr-drop'], journey_uuids: [journey] },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<{ dropped: number }>().dropped, 1);
      const stats = await app.until(journey, 'the kept run to exit', (s) => s.totals.in_journey === 0);
      await waitUntil('the kept user webhook', () => hits('after-wait').length === 1);
      assert.deepEqual(hits('after-wait'), ['dr-keep']);
      assert.deepEqual(stats.totals, { entered: 2, in_journey: 0, exited: 2 });
      assert.deepEqual([stats.point('wait').passed, stats.point('hook').entered], [1, 1]);
    });
  });
});
