import assert from 'node:assert/strict';
import { after, before, beforeEach, it } from 'node:test';
import type { HostResolver, WebhookDestinations } from '../../src/channels/webhook-destinations.js';
import { WebhookDestinationPolicy } from '../../src/domain/webhook-destination.js';
import { Dispatcher } from '../../src/engine/dispatcher.js';
import { createLogger } from '../../src/logger.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { FORBIDDEN_HOSTS } from '../support/forbidden-hosts.js';
import { allowListPolicy, SINK_WEBHOOK_DESTINATIONS, startHttpSink, type HttpSink, type SinkReply } from '../support/http-sink.js';
import { enqueueMessages, type SeedMessage } from '../support/outbox.js';
import { waitUntil } from '../support/wait-until.js';

/** Answers every name with 127.0.0.1, where the sink listens: a name an attacker pointed (or rebound) at loopback. */
const resolvesToLoopback: HostResolver = () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
/** A public address first, loopback second: one forbidden address must refuse the name. */
const resolvesToPublicAndLoopback: HostResolver = () =>
  Promise.resolve([
    { address: '93.184.215.14', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ]);

/**
 * The destination policy and the classification of failures at send time,
 * observed in the outbox and the delivery log, and at a loopback sink that
 * must receive nothing the policy refuses.
 */
describeEachBackend('webhook delivery under the destination policy', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let appId: number;
  let sink: HttpSink;
  let sinkReply: (index: number) => SinkReply;
  let sinkPort: string;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
    appId = (await store.applications.create('HOOKS-00001', 'hooks')).id;
    sink = await startHttpSink((_, index) => sinkReply(index));
    sinkPort = new URL(sink.url).port;
  });
  after(async () => {
    await sink.close();
    await store.close();
    await database.drop();
  });
  beforeEach(async () => {
    await clearOutbox();
    sinkReply = () => ({ status: 200 });
  });

  async function clearOutbox(): Promise<void> {
    for (const table of ['message_deliveries', 'outbox', 'journey_point_counters'] as const) {
      await store.backend.db.deleteFrom(table).execute();
    }
  }

  function webhook(runId: number, url: string, headers: Record<string, string> = {}): SeedMessage {
    return {
      applicationId: appId,
      journeyId: 7,
      runId,
      pointUuid: 'hook',
      userId: `user-${runId}`,
      message: { channel: 'webhook', recipient: url, payload: { method: 'POST', headers, body: '{}' } },
    };
  }

  /**
   * Delivers the messages with a dispatcher of the given destinations (up to 3
   * attempts, 20 ms apart) and returns their final rows in order, and how many
   * requests the sink received meanwhile.
   */
  async function deliver(messages: readonly SeedMessage[], webhookDestinations: WebhookDestinations) {
    const requestsBefore = sink.requests.length;
    await enqueueMessages(store, messages);
    const dispatcher = new Dispatcher(store, createLogger('silent'), {
      pollIntervalMs: 20,
      retry: { baseDelayMs: 20, maxDelayMs: 40, maxAttempts: 3 },
      webhookDestinations,
    });
    await dispatcher.start();
    try {
      const rows = await waitUntil('every message to be final', async () => {
        const final = await store.backend.db
          .selectFrom('outbox')
          .select(['recipient', 'status', 'attempts', 'last_error'])
          .where('status', 'in', ['sent', 'failed'])
          .orderBy('id')
          .execute();
        return final.length === messages.length ? final : undefined;
      });
      return { rows, sinkRequests: sink.requests.length - requestsBefore };
    } finally {
      await dispatcher.stop();
    }
  }

  const strictWith = (resolve: HostResolver): WebhookDestinations => ({ policy: WebhookDestinationPolicy.STRICT, resolve });

  it('refuses every forbidden spelling of a host at the first attempt, calling nothing', async () => {
    const urls = FORBIDDEN_HOSTS.map(({ host }) => `http://${host}:${sinkPort}/hook`);
    const { rows, sinkRequests } = await deliver(
      urls.map((url, i) => webhook(i + 1, url)),
      strictWith(resolvesToLoopback),
    );
    assert.equal(sinkRequests, 0);
    rows.forEach((row, i) => {
      const { refusal } = FORBIDDEN_HOSTS[i]!;
      assert.deepEqual([row.status, row.attempts], ['failed', 1], `${urls[i]}: ${row.last_error}`);
      assert.ok(row.last_error?.startsWith('destination refused: ') && row.last_error.includes(refusal), `${urls[i]}: ${row.last_error}`);
    });
  });

  it('refuses a host name that resolves to a forbidden address, and one of whose addresses is', async () => {
    const url = `http://hooks.example.com:${sinkPort}/hook`;
    for (const resolve of [resolvesToLoopback, resolvesToPublicAndLoopback]) {
      await clearOutbox();
      const { rows, sinkRequests } = await deliver([webhook(1, url, { Authorization: 'Bearer hook-secret' })], strictWith(resolve));
      assert.equal(sinkRequests, 0);
      assert.deepEqual(rows, [
        {
          recipient: url,
          status: 'failed',
          attempts: 1,
          last_error:
            'destination refused: hooks.example.com resolves to 127.0.0.1, a loopback address; ' +
            'the operator can allow it with JOURNEYD_WEBHOOK_ALLOW',
        },
      ]);
    }
  });

  it('delivers to what the allow-list names: a network, or a host name whatever it resolves to', async () => {
    const byNetwork = await deliver([webhook(1, `${sink.url}/by-network`)], SINK_WEBHOOK_DESTINATIONS);
    assert.deepEqual([byNetwork.rows[0]!.status, byNetwork.sinkRequests], ['sent', 1]);
    await clearOutbox();
    const byName = await deliver([webhook(2, `http://hooks.internal:${sinkPort}/by-name`)], {
      policy: allowListPolicy('hooks.internal'),
      resolve: resolvesToLoopback,
    });
    assert.deepEqual([byName.rows[0]!.status, byName.sinkRequests], ['sent', 1]);
    assert.equal(sink.requests.at(-1)!.path, '/by-name');
  });

  it('does not follow a redirect: the message fails at once, and the redirect target is not called', async () => {
    sinkReply = () => ({ status: 307, headers: { location: `${sink.url}/internal-admin` } });
    const { rows, sinkRequests } = await deliver([webhook(1, `${sink.url}/hook`)], SINK_WEBHOOK_DESTINATIONS);
    assert.equal(sinkRequests, 1);
    assert.equal(sink.requests.at(-1)!.path, '/hook');
    assert.deepEqual(
      [rows[0]!.status, rows[0]!.attempts, rows[0]!.last_error],
      ['failed', 1, `HTTP 307: redirects are not followed (Location: ${sink.url}/internal-admin)`],
    );
  });

  it('fails a message with a header value that cannot be sent after one attempt, and delivers the others', async () => {
    const { rows, sinkRequests } = await deliver(
      [webhook(1, `${sink.url}/bad`, { 'X-User': 'ann\r\nX-Admin: yes' }), webhook(2, `${sink.url}/good`, { 'X-User': 'bob' })],
      SINK_WEBHOOK_DESTINATIONS,
    );
    assert.deepEqual(
      rows.map((row) => [row.status, row.attempts, row.last_error]),
      [
        ['failed', 1, 'the request cannot be sent: invalid x-user header'],
        ['sent', 1, null],
      ],
    );
    assert.equal(sinkRequests, 1);
  });

  it('fails a message the channel throws on after one attempt instead of retrying it', async () => {
    // A row whose payload is not a webhook payload (no headers): the provider throws on it.
    const poisoned = webhook(1, `${sink.url}/poisoned`);
    const { rows, sinkRequests } = await deliver(
      [{ ...poisoned, message: { ...poisoned.message, payload: { method: 'POST' } } } as SeedMessage],
      SINK_WEBHOOK_DESTINATIONS,
    );
    assert.equal(sinkRequests, 0);
    assert.deepEqual([rows[0]!.status, rows[0]!.attempts], ['failed', 1]);
    assert.match(rows[0]!.last_error ?? '', /^the channel could not handle this message: /);
  });
});
