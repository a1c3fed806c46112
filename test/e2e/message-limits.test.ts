import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeEachBackend } from '../support/backends.js';
import { startHttpSink, type HttpSink } from '../support/http-sink.js';
import { waitUntil } from '../support/wait-until.js';
import { exitPoint, point, startEngineApp, type EngineApp } from './engine-harness.js';

/** A template that renders `count` × 100 characters. */
const hundredsOfXs = (count: number) => `{% for i in (1..${count}) %}${'x'.repeat(100)}{% endfor %}`;

/** Output caps per message, end to end: a message over its cap fails with the reason instead of being sent. */
describeEachBackend('messages: output limits end to end', (dialect) => {
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

  const pushJourney = (body: string) =>
    app.journey([
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'push' }),
      point('push', 'SEND_PUSH', { send_push: { title: 'Hi', body } }, { default: 'exit' }),
      exitPoint(),
    ]);

  it('fails a 10 MB push body with the reason in the delivery log and the statistics', async () => {
    await app.device('registerDevice', { hwid: 'big-push-hw', userId: 'big-push', device_type: 3, push_token: 'tok-big' });
    const journey = await pushJourney(hundredsOfXs(100_000));
    await app.enter(journey, { payload: { users: ['big-push'] } });

    const stats = await app.until(journey, 'the push to fail', (s) => s.point('push').pointStat.failed === 1);
    assert.equal(stats.point('push').pointStat.sent, 0);
    assert.equal(stats.point('push').passed, 1, 'the run moved on');
    const [message, ...more] = await app.messages(journey, 'big-push');
    assert.equal(more.length, 0);
    assert.equal(message?.status, 'failed');
    assert.equal(message?.reason, 'the push payload (title, body and data as JSON) renders to more than 4096 bytes');
    assert.equal(message?.recipient, 'tok-big');
    assert.deepEqual(message?.content, {});
  });

  it('fails a 2 MB webhook body with the reason, and sends nothing', async () => {
    await app.device('registerDevice', { hwid: 'big-hook-hw', userId: 'big-hook', device_type: 3 });
    const journey = await app.journey([
      point('api', 'START_BY_API', { start_by_api: {} }, { default: 'hook' }),
      point('hook', 'WEBHOOK', { webhook: { url: `${sink.url}/big`, method: 'POST', body: hundredsOfXs(20_000) } }, { default: 'exit' }),
      exitPoint(),
    ]);
    await app.enter(journey, { payload: { users: ['big-hook'] } });

    await app.until(journey, 'the webhook to fail', (s) => s.point('hook').pointStat.failed === 1);
    const [message] = await app.messages(journey, 'big-hook');
    assert.equal(message?.status, 'failed');
    assert.equal(message?.reason, 'the webhook body renders to more than 262144 bytes');
    assert.equal(sink.requests.filter((r) => r.path === '/big').length, 0, 'the receiver got nothing');
  });

  it('returns a bounded excerpt of a long payload string in the delivery log, marked as cut', async () => {
    await app.device('registerDevice', { hwid: 'long-push-hw', userId: 'long-push', device_type: 3, push_token: 'tok-long' });
    // 3,000 bytes: within the push cap, so it is sent whole.
    const journey = await pushJourney(hundredsOfXs(30));
    await app.enter(journey, { payload: { users: ['long-push'] } });

    const [message] = await waitUntil('the push to be sent', async () => {
      const items = await app.messages(journey, 'long-push');
      return items.length === 1 ? items : undefined;
    });
    assert.equal(message?.status, 'sent');
    assert.equal(message?.content.title, 'Hi');
    assert.equal(message?.content.body, `${'x'.repeat(1024)}… [truncated: 3000 characters in all]`);
  });
});
