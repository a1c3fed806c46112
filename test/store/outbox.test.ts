import assert from 'node:assert/strict';
import { after, before, beforeEach, it } from 'node:test';
import type { NewMessage } from '../../src/store/outbox.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { waitUntil } from '../support/wait-until.js';

function webhook(runId: number, overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    applicationId: 1,
    journeyId: 7,
    runId,
    pointUuid: 'point-webhook',
    userId: `user-${runId}`,
    message: {
      channel: 'webhook',
      recipient: 'http://127.0.0.1:9/hook',
      payload: { method: 'POST', headers: {}, body: `{"run":${runId}}` },
    },
    ...overrides,
  };
}

describeEachBackend('outbox store', (dialect) => {
  let database: TestDatabase;
  let store: Store;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
  });
  after(async () => {
    await store.close();
    await database.drop();
  });
  beforeEach(async () => {
    await store.backend.db.deleteFrom('message_deliveries').execute();
    await store.backend.db.deleteFrom('outbox').execute();
    await store.backend.db.deleteFrom('journey_point_counters').execute();
  });

  const outboxRows = () => store.backend.db.selectFrom('outbox').selectAll().orderBy('id').execute();

  it('keeps one row per idempotency key, however often the same message is enqueued', async () => {
    assert.equal(await store.outbox.enqueue([webhook(1), webhook(2)]), 2);
    assert.equal(await store.outbox.enqueue([webhook(1), webhook(2), webhook(3)]), 1);
    assert.equal(await store.outbox.enqueue([webhook(1)]), 0);
    const rows = await outboxRows();
    assert.equal(rows.length, 3);
    assert.equal(new Set(rows.map((r) => r.idempotency_key)).size, 3);
    assert.deepEqual(JSON.parse(rows[0]!.payload), { method: 'POST', headers: {}, body: '{"run":1}' });
  });

  it('gives different keys to different recipients, points and runs, and none to the attempt', async () => {
    await store.outbox.enqueue([
      webhook(1),
      webhook(1, { pointUuid: 'other-point' }),
      webhook(1, { message: { channel: 'webhook', recipient: 'http://127.0.0.1:9/other', payload: { method: 'GET', headers: {} } } }),
      webhook(2),
    ]);
    assert.equal((await outboxRows()).length, 4);
  });

  it('enqueues inside the caller’s transaction: a rollback leaves nothing', async () => {
    await assert.rejects(
      store.backend.db.transaction().execute(async (trx) => {
        assert.equal(await store.outbox.enqueue([webhook(1)], trx), 1);
        throw new Error('the engine’s transaction failed');
      }),
      /the engine’s transaction failed/,
    );
    assert.equal((await outboxRows()).length, 0);
    await store.backend.db.transaction().execute((trx) => store.outbox.enqueue([webhook(1)], trx));
    assert.equal((await outboxRows()).length, 1);
  });

  it('stores every character of user ids, recipients and payloads as given', async () => {
    const awkward = 'Zoë "quoted" \\ back\\slash, {braces} NULL\n\ttabs ☃';
    await store.outbox.enqueue([
      webhook(1, {
        userId: awkward,
        hwid: null,
        message: {
          channel: 'webhook',
          recipient: `http://127.0.0.1:9/${encodeURIComponent(awkward)}`,
          payload: { method: 'POST', headers: { 'X-A': awkward }, body: awkward },
        },
      }),
    ]);
    const [row] = await outboxRows();
    assert.equal(row!.user_id, awkward);
    assert.equal(row!.hwid, null);
    assert.deepEqual(JSON.parse(row!.payload), { method: 'POST', headers: { 'X-A': awkward }, body: awkward });
  });

  it('enqueues a large batch in chunks', async () => {
    const messages = Array.from({ length: 2500 }, (_, i) => webhook(i + 1));
    assert.equal(await store.outbox.enqueue(messages), 2500);
  });

  it('claims due messages once, counting the attempt, and not future ones', async () => {
    await store.outbox.enqueue([webhook(1), webhook(2), webhook(3, { deliverAt: Date.now() + 60_000 })]);
    const now = Date.now();
    const claimed = await store.outbox.claimDue('a', 10, 30_000, now);
    assert.deepEqual(
      claimed.map((m) => [m.userId, m.attempt]),
      [
        ['user-1', 1],
        ['user-2', 1],
      ],
    );
    assert.equal(claimed[0]!.message.channel, 'webhook');
    assert.deepEqual(await store.outbox.claimDue('b', 10, 30_000, now), []);
  });

  it('lets another dispatcher claim a message whose lease ran out, and drops the stale owner’s outcome', async () => {
    await store.outbox.enqueue([webhook(1)]);
    const now = Date.now();
    const [first] = await store.outbox.claimDue('crashed', 10, 1_000, now);
    assert.ok(first);
    assert.deepEqual(await store.outbox.claimDue('b', 10, 1_000, now + 500), []);
    const [again] = await store.outbox.claimDue('b', 10, 1_000, now + 1_001);
    assert.equal(again?.idempotencyKey, first.idempotencyKey);
    assert.equal(again?.attempt, 2);

    assert.equal(await store.outbox.recordOutcomes('crashed', [{ id: first.id, kind: 'sent', provider: 'http' }]), 0);
    assert.equal(await store.outbox.recordOutcomes('b', [{ id: first.id, kind: 'sent', provider: 'http', responseCode: 200 }]), 1);
    const deliveries = await store.backend.db.selectFrom('message_deliveries').selectAll().execute();
    assert.equal(deliveries.length, 1);
    assert.equal(deliveries[0]!.attempts, 2);
  });

  it('records final outcomes in the log and the point counters, and retries as a later due time', async () => {
    await store.outbox.enqueue([webhook(1), webhook(2), webhook(3), webhook(4, { pointUuid: 'point-b' })]);
    const now = Date.now();
    const claimed = await store.outbox.claimDue('a', 10, 30_000, now);
    const id = (user: string) => claimed.find((m) => m.userId === user)!.id;
    const recorded = await store.outbox.recordOutcomes('a', [
      { id: id('user-1'), kind: 'sent', provider: 'http', responseCode: 200 },
      { id: id('user-2'), kind: 'failed', provider: 'http', reason: 'HTTP 400: bad', responseCode: 400 },
      { id: id('user-3'), kind: 'retry', reason: 'HTTP 503', nextAttemptAt: now + 5_000 },
      { id: id('user-4'), kind: 'sent', provider: 'http' },
    ]);
    assert.equal(recorded, 4);

    const rows = await outboxRows();
    assert.deepEqual(
      rows.map((r) => [r.user_id, r.status, r.lease_owner, r.last_error]),
      [
        ['user-1', 'sent', null, null],
        ['user-2', 'failed', null, 'HTTP 400: bad'],
        ['user-3', 'pending', null, 'HTTP 503'],
        ['user-4', 'sent', null, null],
      ],
    );
    assert.equal(rows[2]!.next_attempt_at, now + 5_000);
    assert.deepEqual(await store.outbox.claimDue('a', 10, 30_000, now + 4_999), []);
    assert.equal((await store.outbox.claimDue('a', 10, 30_000, now + 5_000))[0]?.attempt, 2);

    const counters = await store.backend.db
      .selectFrom('journey_point_counters')
      .select(['point_uuid', 'sent', 'failed'])
      .orderBy('point_uuid')
      .execute();
    assert.deepEqual(counters, [
      { point_uuid: 'point-b', sent: 1, failed: 0 },
      { point_uuid: 'point-webhook', sent: 1, failed: 1 },
    ]);

    const log = await store.outbox.listDeliveries(7, 'user-2', { offset: 0, limit: 10 });
    assert.equal(log.total, 1);
    assert.equal(log.items[0]!.outcome, 'failed');
    assert.equal(log.items[0]!.reason, 'HTTP 400: bad');
    assert.equal(log.items[0]!.responseCode, 400);
    assert.deepEqual(log.items[0]!.content, { method: 'POST', headers: {}, body: '{"run":2}' });
  });

  it('releases unattempted claims without counting the attempt', async () => {
    await store.outbox.enqueue([webhook(1)]);
    const [claimed] = await store.outbox.claimDue('a', 10, 60_000);
    await store.outbox.release('a', [claimed!.id]);
    const [again] = await store.outbox.claimDue('b', 10, 60_000);
    assert.equal(again?.attempt, 1);
  });

  it('holds a paused journey’s messages, resumes them, and cancels a user’s', async () => {
    await store.outbox.enqueue([webhook(1), webhook(2), webhook(3, { journeyId: 8 })]);
    assert.equal(await store.outbox.holdJourney(7), 2);
    assert.deepEqual(
      (await store.outbox.claimDue('a', 10, 60_000)).map((m) => m.journeyId),
      [8],
    );
    assert.equal(await store.outbox.cancelUndelivered(7, ['user-1']), 1);
    assert.equal(await store.outbox.resumeJourney(7), 1);
    assert.deepEqual(
      (await store.outbox.claimDue('a', 10, 60_000)).map((m) => m.userId),
      ['user-2'],
    );
    assert.equal(await store.outbox.cancelUndelivered(7), 1);
    const statuses = (await outboxRows()).map((r) => [r.user_id, r.status]);
    assert.deepEqual(statuses, [
      ['user-1', 'cancelled'],
      ['user-2', 'cancelled'],
      ['user-3', 'pending'],
    ]);
  });

  it('records a message sent even if it was cancelled while in flight', async () => {
    await store.outbox.enqueue([webhook(1)]);
    const [claimed] = await store.outbox.claimDue('a', 10, 60_000);
    await store.outbox.cancelUndelivered(7);
    assert.equal(await store.outbox.recordOutcomes('a', [{ id: claimed!.id, kind: 'sent', provider: 'http' }]), 1);
    assert.equal((await outboxRows())[0]!.status, 'sent');
  });

  it('wakes listeners when messages are enqueued', async () => {
    let woken = 0;
    const stop = await store.outbox.newWork.listen(() => woken++);
    try {
      await store.outbox.enqueue([webhook(1)]);
      // On Postgres the wake-up is a NOTIFY round trip; 5 s only bounds it.
      await waitUntil('the listener to be woken', () => woken > 0, 5_000);
      assert.ok(woken > 0);
    } finally {
      await stop();
    }
  });
});
