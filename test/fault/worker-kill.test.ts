import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import type { FaultArming } from '../../src/fault-points.js';
import type { Store } from '../../src/store/store.js';
import { waitUntil } from '../support/wait-until.js';
import {
  assertExactlyOnce,
  assertStatistics,
  importUsers,
  faultRig,
  postgresSkip,
  requestStatus,
  startExternal,
  startWebhookJourney,
  waitForJourneyDone,
  type FaultRig,
  type Role,
} from './support.js';

/**
 * kill -9 of a worker at named points inside its batches (src/fault-points.ts:
 * a process started with JOURNEYD_FAULT kills itself there), during a journey
 * entered by Start by API: start_by_api → webhook → exit. Nothing lost (every
 * user entered once, exited, got their webhook), nothing doubled (one run, one
 * message, one acknowledged key per user).
 */

/**
 * Enough that every point is reached before the work ends, with work left
 * (entry batches are 10,000: Postgres 2, the kill inside the second; SQLite 3,
 * the kill after the second; scheduler batches of 5,000 / 2,000 and dispatcher
 * claims of 200 come many times over). The polling version needed 100,000 and
 * 50,000 to leave a transaction to catch; at that size this test took 167 s of
 * its 170 under load 12–18 on the 2-core machine, and SQLite over 170 s;
 * Postgres at 40,000 took over 170 s too once setup alone took 55 s.
 */
const PG_USERS = 20_000;
const SQLITE_USERS = 25_000;

/**
 * The dispatcher's claim and in-hand bound (batch 200 + 32 in flight + one more
 * batch): the most messages a killed dispatcher can have had answered but not
 * recorded, and so the most repeats (same key) one kill can cause.
 */
const MAX_HELD_PER_DISPATCHER = 200 + 32 + 200;

/**
 * How long a process may take to reach its fault point. Every point here is
 * reached within seconds of the work starting, or of a killed worker's entry
 * lease (30 s) running out; this bound only makes a point never reached fail
 * with its name instead of the test's timeout.
 */
const REACH_POINT_MS = 90_000;

/** Runs not yet exited plus messages not yet sent: the work left, which a kill must interrupt. */
async function workLeft(store: Store, journey: string, users: number): Promise<number> {
  const id = (await store.journeys.findByUuid(journey))?.id ?? -1;
  const { rows } = await sql<{ exited: number; sent: number }>`
    SELECT (SELECT count(*) FROM runs WHERE journey_id = ${id} AND state = 'exited') AS exited,
           (SELECT count(*) FROM outbox WHERE journey_id = ${id} AND status = 'sent') AS sent`.execute(store.backend.db);
  const row = rows[0] as { exited: number; sent: number };
  return 2 * users - Number(row.exited) - Number(row.sent);
}

interface Kill {
  readonly process: string;
  readonly point: string;
  readonly at: number;
  readonly workLeft: number;
}

/**
 * Runs the process armed with each fault in turn (started armed unless it
 * already runs so): it must die at the point, with work left, or the kill
 * proves nothing. Then starts it unarmed, unless `leaveDown`, and returns the kills.
 */
async function killAtEach(
  rig: FaultRig,
  name: string,
  role: Role,
  faults: readonly FaultArming[],
  context: { journey: string; users: number; started: number },
  leaveDown = false,
): Promise<Kill[]> {
  const kills: Kill[] = [];
  for (const fault of faults) {
    if (!rig.supervisor.running(name)) await rig.supervisor.start(name, role, fault);
    await rig.supervisor.diedAtFault(name, REACH_POINT_MS);
    const left = await workLeft(rig.store, context.journey, context.users);
    kills.push({ process: name, point: `${fault.point}:${fault.arrival}`, at: Date.now() - context.started, workLeft: left });
    assert.ok(left > 0, `the kill of ${name} at ${fault.point} came after every run had exited and every message was sent`);
  }
  if (!leaveDown) await rig.supervisor.start(name, role);
  return kills;
}

/**
 * After the kills: the request ends done with every user entered, the journey
 * completes exactly once, and repeats are within what the kills can cause.
 */
async function assertFinishedExactlyOnce(
  rig: FaultRig,
  run: { apiUrl: string; journey: string; requestUuid: string; users: readonly string[]; kills: readonly Kill[]; started: number },
): Promise<void> {
  const { apiUrl, journey, requestUuid, users, kills, started } = run;
  // Bounds that only name what hung (the last entry lease runs out 30 s after its kill at the latest).
  await waitUntil('the request to be done', async () => (await requestStatus(apiUrl, journey, requestUuid)).status === 'done', 60_000);
  const status = await requestStatus(apiUrl, journey, requestUuid);
  assert.equal(status.entered, users.length, JSON.stringify(status));
  await waitForJourneyDone(rig.store, journey, users.length, 100_000);
  const report = await assertExactlyOnce(rig.store, rig.sink, journey, 'kill', users);
  await assertStatistics(apiUrl, journey, users.length);
  assert.ok(report.repeatedKeys <= kills.length * MAX_HELD_PER_DISPATCHER, `${report.repeatedKeys} repeated deliveries`);
  rig.supervisor.assertNoUnexpectedExit();
  console.log(`done in ${Date.now() - started} ms; ${report.repeatedKeys} deliveries repeated with the same key`);
}

/**
 * Postgres: w1 runs alone while it dies at the entry and scheduler points, so
 * that the work is its own (with both running, a restarted worker once got no
 * scheduler batch in 90 s while the other took them all); first inside the
 * second of two entry batches, so that the other half is left to enter while
 * the dead worker's entry lease (30 s) runs out. Then w2 dies at the
 * dispatcher points while w1 stays down: with w1 back, a busy machine once let
 * it send every message before the restarted w2 claimed its second batch.
 * Both then finish the work together.
 */
const PG_W1_KILLS: readonly FaultArming[] = [
  { point: 'entry.batch.before-commit', arrival: 2 },
  { point: 'scheduler.batch.before-commit', arrival: 2 },
  { point: 'scheduler.batch.after-commit', arrival: 2 },
];
const PG_W2_KILLS: readonly FaultArming[] = [
  { point: 'dispatcher.outcomes.before-record', arrival: 2 },
  { point: 'dispatcher.outcomes.after-record', arrival: 2 },
];
const PG_KILLS = PG_W1_KILLS.length + PG_W2_KILLS.length;

/** SQLite, one process (role all) dying at each in turn. */
const SQLITE_KILLS: readonly FaultArming[] = [
  { point: 'entry.batch.after-commit', arrival: 2 },
  { point: 'scheduler.batch.before-commit', arrival: 3 },
  { point: 'dispatcher.outcomes.before-record', arrival: 2 },
];

describe(
  `postgres: kill -9 of a worker at named points inside its batches, ${PG_KILLS} times, during a ${PG_USERS.toLocaleString('en')}-user Start-by-API journey`,
  { skip: postgresSkip },
  () => {
    const rig = faultRig('postgres');

    it('every user gets exactly one webhook and every run exits; the statistics agree', { timeout: 170_000 }, async () => {
      const started = Date.now();
      const users = await importUsers(rig.database.url, 'k', PG_USERS);
      const api = await rig.supervisor.start('api', 'api');
      await rig.supervisor.start('w1', 'worker', PG_W1_KILLS[0]);
      const journey = await startWebhookJourney(api.url as string, rig.sink, 'kill');
      // 60 s bounds one request accepting every id (seconds under load); it only names a hang.
      const accepted = await startExternal(api.url as string, journey, users, 60_000);
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
      const requestUuid = accepted.body.request_uuid as string;
      console.log(`setup ${Date.now() - started} ms`);

      const context = { journey, users: users.length, started };
      const kills = await killAtEach(rig, 'w1', 'worker', PG_W1_KILLS, context, true);
      kills.push(...(await killAtEach(rig, 'w2', 'worker', PG_W2_KILLS, context)));
      await rig.supervisor.start('w1', 'worker');
      console.log(`kills: ${JSON.stringify(kills)}`);

      await assertFinishedExactlyOnce(rig, { apiUrl: api.url as string, journey, requestUuid, users, kills, started });
    });
  },
);

describe(`sqlite: kill -9 of the single process (role all) at named points inside its batches, ${SQLITE_KILLS.length} times, during a ${SQLITE_USERS.toLocaleString('en')}-user journey`, () => {
  const rig = faultRig('sqlite');

  it('restarted on the same file, it finishes: every user gets exactly one webhook and every run exits', { timeout: 170_000 }, async () => {
    const started = Date.now();
    const users = await importUsers(rig.database.url, 's', SQLITE_USERS);
    const first = await rig.supervisor.start('all', 'all', SQLITE_KILLS[0]);
    const journey = await startWebhookJourney(first.url as string, rig.sink, 'kill');
    // 60 s bounds one request accepting every id (seconds under load); it only names a hang.
    const accepted = await startExternal(first.url as string, journey, users, 60_000);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const requestUuid = accepted.body.request_uuid as string;

    const kills = await killAtEach(rig, 'all', 'all', SQLITE_KILLS, { journey, users: users.length, started });
    const server = rig.supervisor.get('all');
    console.log(`kills: ${JSON.stringify(kills)}`);

    await assertFinishedExactlyOnce(rig, { apiUrl: server.url as string, journey, requestUuid, users, kills, started });
  });
});
