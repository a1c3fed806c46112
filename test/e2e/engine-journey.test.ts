import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeEachBackend } from '../support/backends.js';
import { startHttpSink, type HttpSink } from '../support/http-sink.js';
import { waitUntil } from '../support/wait-until.js';
import { exitPoint, point, startEngineApp, type EngineApp } from './engine-harness.js';

/**
 * The journey of the issue, end to end over HTTP:
 *   start_by_api ─> split VIP? ─output1─> webhook with {{ promo_code }} ─> exit
 *                             └─default─> wait 2 s ─> push ─> exit
 */
describeEachBackend('engine: start by API → split → (webhook | wait → push) → exit', (dialect) => {
  let app: EngineApp;
  let sink: HttpSink;
  let journey: string;
  let enteredAt: number;

  before(async () => {
    app = await startEngineApp(dialect);
    sink = await startHttpSink();
    // Two VIP users (one with two devices, a push token on only one), two others, one user nobody names.
    await app.device('registerDevice', { hwid: 'vip-1-phone', userId: 'vip-1', device_type: 1, push_token: 'tok-vip-1' });
    await app.device('registerDevice', { hwid: 'vip-2-phone', userId: 'vip-2', device_type: 3, push_token: 'tok-vip-2' });
    await app.device('registerDevice', { hwid: 'reg-1-phone', userId: 'reg-1', device_type: 1, push_token: 'tok-reg-1a' });
    await app.device('registerDevice', { hwid: 'reg-1-tablet', userId: 'reg-1', device_type: 3, push_token: 'tok-reg-1b' });
    await app.device('registerDevice', { hwid: 'reg-1-web', userId: 'reg-1', device_type: 11 });
    await app.device('registerDevice', { hwid: 'reg-2-phone', userId: 'reg-2', device_type: 3, push_token: 'tok-reg-2' });
    await app.device('setTags', { userId: 'vip-1', tags: { VIP: true, City: 'Paris' } });
    await app.device('setTags', { userId: 'vip-2', tags: { VIP: true, City: 'Rome' } });
    await app.device('setTags', { userId: 'reg-1', tags: { VIP: false, City: 'Oslo' } });

    journey = await app.journey([
      point('api', 'START_BY_API', { start_by_api: { attributes: [{ name: 'promo_code', default: 'NONE' }] } }, { default: 'vip' }),
      point('vip', 'BOOLEAN_SPLITTER', { boolean_splitter: { filter: 'T("VIP", eq, true)' } }, { output1: 'hook', default: 'wait' }),
      point(
        'hook',
        'WEBHOOK',
        {
          webhook: {
            url: `${sink.url}/promo/{{ user_id }}`,
            method: 'POST',
            headers: { 'X-City': '{{ tags.City }}' },
            body: '{"user": "{{ user_id }}", "code": "{{ promo_code }}"}',
          },
        },
        { default: 'exit' },
      ),
      point('wait', 'WAIT', { wait: { delay_seconds: 2 } }, { default: 'push' }),
      point(
        'push',
        'SEND_PUSH',
        { send_push: { title: 'Hi {{ user_id }}', body: 'Your code: {{ promo_code }} ({{ tags.City }})' } },
        { default: 'exit' },
      ),
      exitPoint(),
    ]);
    enteredAt = Date.now();
    await app.enter(journey, {
      payload: { users: ['vip-1', 'vip-2', 'reg-1', 'reg-2', 'nobody'] },
      attribute_values: { promo_code: 'SUMMER25' },
    });
  });
  after(async () => {
    await app.close();
    await sink.close();
  });

  it('sends the webhook once to each matched user, rendered with the entry attribute and the user tags', async () => {
    const requests = await waitUntil('two webhooks', () => (sink.requests.length >= 2 ? sink.requests : undefined));
    const byPath = new Map(requests.map((r) => [r.path, r]));
    assert.deepEqual([...byPath.keys()].sort(), ['/promo/vip-1', '/promo/vip-2']);
    assert.deepEqual(JSON.parse(byPath.get('/promo/vip-1')!.body), { user: 'vip-1', code: 'SUMMER25' });
    assert.equal(byPath.get('/promo/vip-2')!.headers['x-city'], 'Rome');
    assert.equal(byPath.get('/promo/vip-1')!.method, 'POST');
  });

  it('moves every run to the exit and counts each point', async () => {
    const stats = await app.until(journey, 'all runs exited', (s) => s.totals.exited === 4);
    assert.deepEqual(stats.totals, { entered: 4, in_journey: 0, exited: 4 });
    const counts = (uuid: string) => {
      const p = stats.point(uuid);
      return [p.entered, p.in_point, p.passed];
    };
    assert.deepEqual(counts('api'), [4, 0, 4]);
    assert.deepEqual(counts('vip'), [4, 0, 4]);
    assert.deepEqual(counts('hook'), [2, 0, 2]);
    assert.deepEqual(counts('wait'), [2, 0, 2]);
    assert.deepEqual(counts('push'), [2, 0, 2]);
    assert.deepEqual(counts('exit'), [4, 0, 4]);
  });

  it('records sent messages per point: one webhook per VIP, one push per device with a token', async () => {
    const stats = await app.until(
      journey,
      'deliveries recorded',
      (s) => s.point('push').pointStat.sent === 3 && s.point('hook').pointStat.sent === 2,
    );
    assert.deepEqual(stats.point('hook').pointStat, { sent: 2, failed: 0 });
    assert.deepEqual(stats.point('push').pointStat, { sent: 3, failed: 0 });
    assert.deepEqual(stats.point('vip').pointStat, { sent: 0, failed: 0 });
  });

  it('shows each user their messages in the delivery log, the push only after the 2 s wait', async () => {
    const vip = await app.messages(journey, 'vip-1');
    assert.equal(vip.length, 1);
    assert.equal(vip[0]!.channel, 'webhook');
    assert.equal(vip[0]!.status, 'sent');
    assert.equal(vip[0]!.recipient, `${sink.url}/promo/vip-1`);

    const regular = await app.messages(journey, 'reg-1');
    assert.deepEqual(regular.map((m) => m.recipient).sort(), ['tok-reg-1a', 'tok-reg-1b']);
    for (const message of regular) {
      assert.equal(message.channel, 'push');
      assert.equal(message.point_uuid, 'push');
      assert.deepEqual(message.content, { title: 'Hi reg-1', body: 'Your code: SUMMER25 (Oslo)' });
      assert.ok(
        Date.parse(message.created_at) >= enteredAt + 2_000,
        `push created at ${message.created_at}, entry at ${new Date(enteredAt).toISOString()}`,
      );
    }
    const other = await app.messages(journey, 'reg-2');
    assert.deepEqual(other[0]?.content, { title: 'Hi reg-2', body: 'Your code: SUMMER25 ()' });
    assert.deepEqual(await app.messages(journey, 'nobody'), []);
  });

  it('never sent a webhook twice', () => {
    assert.equal(sink.requests.length, 2);
    assert.equal(new Set(sink.requests.map((r) => r.headers['idempotency-key'])).size, 2);
  });
});
