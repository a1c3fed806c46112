/**
 * postEvent's journey reactions (docs/entry-and-events.md), on each backend:
 * `store.events.record` (the whole transaction postEvent commits) for events
 * one at a time, in an application with 500 running journeys that do not
 * listen for them, compared with
 *   - an application with no journey at all (the event insert alone);
 *   - an event that enters its user into 5 journeys (EVENT entry points, allow_reenter);
 *   - an event that moves the user's runs waiting at WAIT_EVENT points of 5 journeys;
 * and, for reference, the lookup the trigger index replaces: reading and
 * parsing the points of every running journey of the application per event.
 */
import { sql } from 'kysely';
import type { Point } from '../../src/domain/journey.js';
import type { Dialect } from '../../src/store/backend.js';
import type { Store } from '../../src/store/store.js';
import { openBenchStore } from '../fixtures.js';
import { peakRssMb, report } from '../report.js';

const USERS = 5_000;
const EVENTS = 3_000;
const QUIET_JOURNEYS = 500;
const LISTENING_JOURNEYS = 5;

const exit: Point = { uuid: 'exit', title: 'Exit', point_type: 'POINT_TYPE_EXIT', point_data: { exit: {} }, outputs: [] };

function quietPoints(): Point[] {
  return [
    {
      uuid: 'api',
      point_type: 'POINT_TYPE_START_BY_API',
      point_data: { start_by_api: { attributes: [{ name: 'promo_code', default: 'X' }] } },
      outputs: [{ key: 'default', next_point_uuid: 'wait' }],
    },
    {
      uuid: 'wait',
      point_type: 'POINT_TYPE_WAIT',
      point_data: { wait: { delay_seconds: 3600 } },
      outputs: [{ key: 'default', next_point_uuid: 'exit' }],
    },
    exit,
  ];
}

function entryPoints(): Point[] {
  return [
    {
      uuid: 'evt',
      point_type: 'POINT_TYPE_EVENT',
      point_data: {
        message_bus: { event_name: 'signup', event_conditions: [{ attribute: 'plan', operator: 'in', value: ['pro'] }] },
      },
      outputs: [{ key: 'default', next_point_uuid: 'exit' }],
    },
    exit,
  ];
}

function waitPoints(): Point[] {
  return [
    {
      uuid: 'api',
      point_type: 'POINT_TYPE_START_BY_API',
      point_data: { start_by_api: {} },
      outputs: [{ key: 'default', next_point_uuid: 'wait-buy' }],
    },
    exit,
    {
      uuid: 'wait-buy',
      point_type: 'POINT_TYPE_WAIT_EVENT',
      point_data: {
        wait_event: {
          branches: [{ key: 'bought', event_name: 'purchase', event_conditions: [{ attribute: 'amount', operator: 'gte', value: 10 }] }],
          timeout_seconds: 3600,
        },
      },
      outputs: [
        { key: 'bought', next_point_uuid: 'exit' },
        { key: 'default', next_point_uuid: 'exit' },
      ],
    },
  ];
}

async function runningJourney(store: Store, applicationId: number, code: string, points: Point[], allowReenter: boolean) {
  const created = await store.journeys.create(crypto.randomUUID(), applicationId, {
    title: 'bench',
    params: { application_code: code, allow_reenter: allowReenter },
    points,
  });
  const running = await store.journeys.transition(created, 'STATUS_RUNNING');
  if (!running) throw new Error('could not start a journey');
  return running;
}

async function addUsers(store: Store, applicationId: number): Promise<void> {
  const now = Date.now();
  for (let from = 0; from < USERS; from += 1000) {
    const rows = Array.from({ length: Math.min(1000, USERS - from) }, (_, i) => ({
      application_id: applicationId,
      hwid: `hw-${from + i}`,
      user_id: `user-${from + i}`,
      device_type: 3,
      push_token: null,
      language: null,
      timezone: null,
      created_at: now,
      updated_at: now,
    }));
    await store.backend.db.insertInto('devices').values(rows).execute();
  }
}

async function timeEvents(label: string, store: Store, applicationId: number, name: string, attributes: Record<string, unknown>) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) {
    await store.events.record(applicationId, {
      subject: { userId: `user-${i % USERS}` },
      name,
      attributes,
      occurredAt: Date.now(),
    });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report(label, { events_per_s: EVENTS / seconds, mean_ms: (seconds * 1000) / EVENTS });
}

/** The alternative the trigger index replaces: every running journey's points, read and parsed, per event. */
async function timeJourneyScan(label: string, store: Store, applicationId: number) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) {
    const rows = await store.backend.db
      .selectFrom('journeys')
      .select(['id', 'points'])
      .where('application_id', '=', applicationId)
      .where('status', '=', 'STATUS_RUNNING')
      .execute();
    for (const row of rows) (JSON.parse(row.points) as Point[]).some((p) => p.point_type === 'POINT_TYPE_EVENT');
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report(label, { lookups_per_s: EVENTS / seconds, mean_ms: (seconds * 1000) / EVENTS });
}

async function benchmark(dialect: Dialect): Promise<void> {
  const { store, close: drop } = await openBenchStore(dialect);
  try {
    const bare = await store.applications.create('BARE0-00001', 'bare');
    const busy = await store.applications.create('BUSY0-00001', 'busy');
    await addUsers(store, bare.id);
    await addUsers(store, busy.id);
    for (let i = 0; i < QUIET_JOURNEYS; i++) await runningJourney(store, busy.id, busy.code, quietPoints(), false);
    const waiting: number[] = [];
    for (let i = 0; i < LISTENING_JOURNEYS; i++) {
      await runningJourney(store, busy.id, busy.code, entryPoints(), true);
      waiting.push((await runningJourney(store, busy.id, busy.code, waitPoints(), true)).id);
    }
    // Every user waits at the WAIT_EVENT point of each waiting journey, far from its timeout.
    const later = Date.now() + 3_600_000;
    for (const journeyId of waiting) {
      await sql`
        INSERT INTO runs (journey_id, application_id, user_id, point_uuid, waiting_point, state, due_at, attributes,
                          entered_at, updated_at)
        SELECT ${journeyId}, application_id, user_id, 'wait-buy', 'wait-buy', 'active', ${later}, '{}', ${later}, ${later}
        FROM devices WHERE application_id = ${busy.id}`.execute(store.backend.db);
    }

    // Warm-up: statement caches, the trigger compile cache, the JIT.
    for (let i = 0; i < 200; i++) {
      for (const application of [bare, busy]) {
        await store.events.record(application.id, { subject: { userId: 'user-0' }, name: 'warm_up', attributes: {}, occurredAt: 0 });
      }
    }
    await timeEvents(`${dialect}: no journeys in the application`, store, bare.id, 'page_view', {});
    await timeEvents(`${dialect}: ${QUIET_JOURNEYS} journeys, none listening`, store, busy.id, 'page_view', {});
    await timeEvents(`${dialect}: enters ${LISTENING_JOURNEYS} journeys`, store, busy.id, 'signup', { plan: 'pro' });
    await timeEvents(`${dialect}: moves ${LISTENING_JOURNEYS} waiting runs`, store, busy.id, 'purchase', { amount: 20 });
    await timeJourneyScan(`${dialect}: (reference) scan ${QUIET_JOURNEYS + 2 * LISTENING_JOURNEYS} journeys`, store, busy.id);
  } finally {
    if (dialect === 'sqlite') await store.close();
    await drop();
  }
}

await benchmark('sqlite');
await benchmark('postgres');
report('peak', { rss_mb: peakRssMb() });
