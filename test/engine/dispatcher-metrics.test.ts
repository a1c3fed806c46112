import assert from 'node:assert/strict';
import { after, afterEach, before, it } from 'node:test';
import { Dispatcher } from '../../src/engine/dispatcher.js';
import { createLogger } from '../../src/logger.js';
import { ServiceMetrics } from '../../src/service/metrics.js';
import { enqueueMessages, type SeedMessage } from '../support/outbox.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { SINK_WEBHOOK_DESTINATIONS, startHttpSink, type HttpSink } from '../support/http-sink.js';
import { sampleValue } from '../support/metrics.js';
import { waitUntil } from '../support/wait-until.js';

const ANSWER_DELAY_MS = 300;

describeEachBackend('dispatcher metrics', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let appId: number;
  let sink: HttpSink;
  let dispatcher: Dispatcher | undefined;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
    appId = (await store.applications.create('METRI-00001', 'metrics')).id;
    await store.channelSettings.set(appId, 'webhook', 'http', { timeout_ms: 5_000 });
    sink = await startHttpSink(() => ({ status: 200, delayMs: ANSWER_DELAY_MS }));
  });
  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
    await store.backend.db.deleteFrom('message_deliveries').execute();
    await store.backend.db.deleteFrom('outbox').execute();
  });
  after(async () => {
    await sink.close();
    await store.close();
    await database.drop();
  });

  function webhook(runId: number): SeedMessage {
    return {
      applicationId: appId,
      journeyId: 7,
      runId,
      pointUuid: 'hook',
      userId: `user-${runId}`,
      message: { channel: 'webhook', recipient: `${sink.url}/${runId}`, payload: { method: 'POST', headers: {}, body: '{}' } },
    };
  }

  async function startDispatcher(): Promise<ServiceMetrics> {
    const metrics = new ServiceMetrics({ outboxBacklog: () => store.outbox.dueBacklog() });
    // A 20 ms poll so that retries come due within the test; settings uncached so each test's channel applies.
    dispatcher = new Dispatcher(store, createLogger('silent'), {
      pollIntervalMs: 20,
      settingsTtlMs: 0,
      metrics,
      webhookDestinations: SINK_WEBHOOK_DESTINATIONS,
    });
    await dispatcher.start();
    return metrics;
  }

  const exposition = async (metrics: ServiceMetrics) => (await metrics.exposition()).body;

  it('observes the time from claim to the provider answer, by outcome', async () => {
    const requestsBefore = sink.requests.length;
    await enqueueMessages(store, [webhook(1), webhook(2)]);
    const metrics = await startDispatcher();
    const text = await waitUntil('both deliveries to be observed', async () => {
      const text = await exposition(metrics);
      return sampleValue(text, 'journeyd_dispatch_latency_seconds_count', { outcome: 'sent' }) === 2 ? text : undefined;
    });
    assert.equal(sink.requests.length - requestsBefore, 2);
    const seconds = sampleValue(text, 'journeyd_dispatch_latency_seconds_sum', { outcome: 'sent' })!;
    assert.ok(seconds >= (2 * ANSWER_DELAY_MS) / 1000, `${seconds} s for two answers that took ${ANSWER_DELAY_MS} ms each`);
    assert.equal(sampleValue(text, 'journeyd_dispatch_latency_seconds_bucket', { outcome: 'sent', le: '0.1' }), 0);
    assert.equal(sampleValue(text, 'journeyd_lease_expiries_total', { work: 'outbox_message' }), 0);
  });

  it('counts an outcome refused because the lease expired and another dispatcher claimed the message', async () => {
    const requestsBefore = sink.requests.length;
    await enqueueMessages(store, [webhook(3)]);
    const metrics = await startDispatcher();
    await waitUntil('the delivery to reach the receiver', () => sink.requests.length > requestsBefore);
    // Another dispatcher whose clock is past this one's lease claims the message while the receiver is still answering.
    const [stolen] = await store.outbox.claimDue('dispatcher-after-expiry', 10, 60_000, Date.now() + 10 * 60_000);
    assert.ok(stolen, 'the message was claimed again');

    await waitUntil(
      'the refused outcome to be counted',
      async () => sampleValue(await exposition(metrics), 'journeyd_lease_expiries_total', { work: 'outbox_message' }) === 1,
    );
    const row = await store.backend.db.selectFrom('outbox').select(['status', 'lease_owner']).executeTakeFirstOrThrow();
    assert.deepEqual(row, { status: 'pending', lease_owner: 'dispatcher-after-expiry' });
  });
});
