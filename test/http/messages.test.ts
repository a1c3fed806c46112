import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Dispatcher } from '../../src/engine/dispatcher.js';
import { createLogger } from '../../src/logger.js';
import { enqueueMessages, type SeedMessage } from '../support/outbox.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { SINK_WEBHOOK_DESTINATIONS, startHttpSink, type HttpSink } from '../support/http-sink.js';
import { waitUntil } from '../support/wait-until.js';

const DAVE_TOKEN = 'dave-webhook-credential-7f3a';

describeEachBackend('GET /api/journey/{id}/messages', (dialect) => {
  let ctx: TestContext;
  let sink: HttpSink;
  let journeyUuid: string;
  let otherToken: string;

  before(async () => {
    ctx = await startTestApp(dialect);
    sink = await startHttpSink((request) => {
      if (request.path === '/bad') return { status: 422, body: 'no such user' };
      // A receiver that echoes the request, a credential included, in a long error reply.
      if (request.path === '/echo') return { status: 400, body: `bad request ${JSON.stringify(request.headers)} ${'-'.repeat(5000)}` };
      return { status: 200 };
    });
    const created = await ctx.request({
      method: 'POST',
      url: '/api/v3/journeygateway',
      payload: { title: 'Messages', params: { application_code: TEST_APP_CODE }, points: [] },
    });
    assert.equal(created.statusCode, 200, created.body);
    journeyUuid = created.json<{ info: { uuid: string } }>().info.uuid;
    const journey = await ctx.store.journeys.findByUuid(journeyUuid);
    assert.ok(journey);

    const other = await ctx.store.applications.create('OTHER-00002', 'other');
    otherToken = 'other-application-token';
    await ctx.store.applications.createToken(otherToken, 'api', 'other', [other.id]);

    const base = { applicationId: journey.applicationId, journeyId: journey.id, pointUuid: 'point-1' };
    const messages: SeedMessage[] = [
      {
        ...base,
        runId: 1,
        userId: 'alice',
        message: { channel: 'push', recipient: 'token-a', payload: { title: 'Hi', body: 'Alice' } },
        hwid: 'hw-a',
      },
      {
        ...base,
        runId: 1,
        userId: 'alice',
        pointUuid: 'point-2',
        message: { channel: 'webhook', recipient: `${sink.url}/bad`, payload: { method: 'POST', headers: {}, body: '{"u":"alice"}' } },
      },
      { ...base, runId: 2, userId: 'bob', message: { channel: 'sms', recipient: '+15550100', payload: { body: 'Bob' } } },
      {
        ...base,
        runId: 3,
        userId: 'dave',
        message: {
          channel: 'webhook',
          recipient: `${sink.url}/echo`,
          payload: { method: 'POST', headers: { Authorization: `Bearer ${DAVE_TOKEN}` }, body: '{}' },
        },
      },
    ];
    await enqueueMessages(ctx.store, messages);
    // A 20 ms poll: a missed wake-up costs the test 20 ms, not the default second.
    const dispatcher = new Dispatcher(ctx.store, createLogger('silent'), {
      pollIntervalMs: 20,
      webhookDestinations: SINK_WEBHOOK_DESTINATIONS,
    });
    await dispatcher.start();
    await waitUntil('four outcomes', async () => {
      const rows = await ctx.store.backend.db.selectFrom('message_deliveries').select('id').execute();
      return rows.length === 4;
    });
    await dispatcher.stop();
  });
  after(async () => {
    await sink.close();
    await ctx.close();
  });

  it('lists a user’s messages with their outcome and rendered content, oldest first', async () => {
    const res = await ctx.request({ method: 'GET', url: `/api/journey/${journeyUuid}/messages?user_id=alice` });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{
      _metadata: Record<string, number>;
      payload: { items: Record<string, unknown>[] };
    }>();
    assert.deepEqual(body._metadata, { page: 1, page_count: 1, total_count: 2 });
    const byPoint = new Map(body.payload.items.map((item) => [item.point_uuid, item]));
    const push = byPoint.get('point-1')!;
    assert.deepEqual(
      [push.channel, push.provider, push.recipient, push.hwid, push.status, push.reason, push.attempts],
      ['push', 'log', 'token-a', 'hw-a', 'sent', null, 1],
    );
    assert.deepEqual(push.content, { title: 'Hi', body: 'Alice' });
    const hook = byPoint.get('point-2')!;
    assert.deepEqual(
      [hook.channel, hook.provider, hook.status, hook.reason, hook.response_code],
      ['webhook', 'http', 'failed', 'HTTP 422: no such user', 422],
    );
    assert.deepEqual(hook.content, { method: 'POST', headers: {}, body: '{"u":"alice"}' });
    assert.ok(typeof hook.delivered_at === 'string' && !Number.isNaN(Date.parse(hook.delivered_at)));
  });

  it('shows at most 256 bytes of a failed reply, without the values of the request’s headers', async () => {
    const res = await ctx.request({ method: 'GET', url: `/api/journey/${journeyUuid}/messages?user_id=dave` });
    assert.equal(res.statusCode, 200, res.body);
    const [item] = res.json<{ payload: { items: { status: string; reason: string }[] } }>().payload.items;
    assert.equal(item!.status, 'failed');
    assert.ok(item!.reason.startsWith('HTTP 400: bad request {'), item!.reason);
    assert.ok(item!.reason.includes('"authorization":"[redacted]"'), item!.reason);
    assert.ok(!item!.reason.includes(DAVE_TOKEN), item!.reason);
    assert.ok(Buffer.byteLength(item!.reason) <= 256, `${Buffer.byteLength(item!.reason)} bytes`);
  });

  it('lists nothing for a user without messages, and only that user’s', async () => {
    const bob = (await ctx.request({ method: 'GET', url: `/api/journey/${journeyUuid}/messages?user_id=bob` })).json<{
      payload: { items: { recipient: string }[] };
    }>();
    assert.deepEqual(
      bob.payload.items.map((i) => i.recipient),
      ['+15550100'],
    );
    const nobody = await ctx.request({ method: 'GET', url: `/api/journey/${journeyUuid}/messages?user_id=carol` });
    assert.deepEqual(nobody.json(), { _metadata: { page: 1, page_count: 0, total_count: 0 }, payload: { items: [] } });
  });

  it('answers 404 to a token of another application, and 401 without a known token', async () => {
    const foreign = await ctx.request({
      method: 'GET',
      url: `/api/journey/${journeyUuid}/messages?user_id=alice`,
      headers: { authorization: `Api ${otherToken}` },
    });
    assert.equal(foreign.statusCode, 404);
    assert.match(foreign.json<{ message: string }>().message, /not found/);
    const unknown = await ctx.request({
      method: 'GET',
      url: `/api/journey/${journeyUuid}/messages?user_id=alice`,
      headers: { authorization: 'Api nope' },
    });
    assert.equal(unknown.statusCode, 401);
  });

  it('requires user_id and a valid page', async () => {
    const missing = await ctx.request({ method: 'GET', url: `/api/journey/${journeyUuid}/messages` });
    assert.equal(missing.statusCode, 400);
    assert.match(missing.json<{ message: string }>().message, /user_id is required/);
    const badPage = await ctx.request({ method: 'GET', url: `/api/journey/${journeyUuid}/messages?user_id=alice&page=0` });
    assert.equal(badPage.statusCode, 400);
    assert.match(badPage.json<{ message: string }>().message, /page must be/);
  });
});
