import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import { describeEachBackend } from '../support/backends.js';
import { exitPoint, point, startEngineApp, type EngineApp } from './engine-harness.js';

/**
 * Deleting an archived journey that ran: entered by API, by segment and by
 * event, sent pushes that were delivered. Every row it left behind goes with
 * it; another journey's rows stay.
 */

/** Tables that hold rows of one journey, by `journey_id`. */
const JOURNEY_TABLES = [
  'runs',
  'journey_point_counters',
  'outbox',
  'message_deliveries',
  'entry_rate_limits',
  'entry_requests',
  'journey_event_triggers',
  'segment_entries',
] as const;

describeEachBackend('deleting a journey that ran', (dialect) => {
  let app: EngineApp;

  before(async () => {
    app = await startEngineApp(dialect);
    for (const user of ['ann', 'bob']) {
      await app.device('registerDevice', { hwid: `${user}-phone`, userId: user, device_type: 3, push_token: `token-${user}` });
    }
    await app.device('setTags', { userId: 'ann', tags: { Plan: 'gold' } });
  });
  after(() => app.close());

  const ranJourney = (title: string) =>
    app.journey(
      [
        point('api', 'START_BY_API', { start_by_api: {} }, { default: 'push' }),
        point('segment', 'START_BY_SEGMENT', { start_by_segment: { filter: 'T("Plan", eq, "gold")' } }, { default: 'push' }),
        point('event', 'EVENT', { message_bus: { event_name: 'Signup' } }, { default: 'push' }),
        point('push', 'SEND_PUSH', { send_push: { title: 'Hi', body: 'Welcome' } }, { default: 'exit' }),
        exitPoint(),
      ],
      {},
      title,
    );

  async function rowsOf(journeyId: number): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const table of JOURNEY_TABLES) {
      const row = await app.store.backend.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('journey_id', '=', journeyId)
        .executeTakeFirstOrThrow();
      counts[table] = Number(row.n);
    }
    return counts;
  }

  it('takes its runs, requests, counters, messages, deliveries, triggers and segment entries, and nothing of another journey', async () => {
    const deleted = await ranJourney('to delete');
    const kept = await ranJourney('to keep');
    // The harness runs no segment worker: one drains the two segment entries (ann) here.
    assert.equal(await new EntryWorker(app.store, { claims: 'segments', logger: createLogger('silent') }).drain(), 2);
    for (const uuid of [deleted, kept]) {
      await app.enter(uuid, { payload: { users: ['bob'] } });
      await app.until(uuid, 'both users to receive the push', (stats) => stats.point('push').pointStat.sent === 2);
    }
    const idOf = async (uuid: string) => (await app.store.journeys.findByUuid(uuid))?.id ?? assert.fail(`no journey ${uuid}`);
    const deletedId = await idOf(deleted);
    const keptId = await idOf(kept);
    const before = await rowsOf(deletedId);
    const keptBefore = await rowsOf(keptId);
    for (const table of JOURNEY_TABLES) {
      assert.ok((before[table] ?? 0) > 0, `the journey that ran has no ${table} rows to delete: ${JSON.stringify(before)}`);
    }

    await app.lifecycle('finish', deleted);
    const archived = await app.request({ method: 'POST', url: '/api/v3/journeygateway/archive', payload: { uuid: deleted } });
    assert.equal(archived.statusCode, 200, archived.body);
    const res = await app.request({ method: 'DELETE', url: `/api/v3/journeygateway/${deleted}` });
    assert.equal(res.statusCode, 200, res.body);

    assert.deepEqual(await rowsOf(deletedId), Object.fromEntries(JOURNEY_TABLES.map((table) => [table, 0])));
    assert.equal(await app.store.journeys.findByUuid(deleted), undefined);
    assert.deepEqual(await rowsOf(keptId), keptBefore);
    assert.equal((await app.statistics(kept)).point('push').pointStat.sent, 2);
  });
});
