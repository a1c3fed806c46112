import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import type { Store } from '../../src/store/store.js';
import { waitUntil } from '../support/wait-until.js';
import {
  assertExactlyOnce,
  assertStatistics,
  importUsers,
  killInsideTransaction,
  faultRig,
  postgresSkip,
  processUrl,
  requestStatus,
  startExternal,
  startWebhookJourney,
  waitForJourneyDone,
} from './support.js';

/**
 * kill -9 of a worker while it holds a batch, repeatedly, during a journey
 * entered by Start by API: start_by_api → webhook → exit. Nothing lost (every
 * user entered once, exited, got their webhook), nothing doubled (one run, one
 * message, one acknowledged key per user).
 */

const PG_USERS = 100_000;
const PG_KILLS = 5;
// Enough that work is left at the third kill on a fast machine: with 20,000, 1,207 of 40,000 runs and
// messages were left there once, and none another time, so no write transaction was left to catch.
const SQLITE_USERS = 50_000;
const SQLITE_KILLS = 3;

/**
 * The dispatcher's claim and in-hand bound (batch 200 + 32 in flight + one more
 * batch): the most messages a killed dispatcher can have had answered but not
 * recorded, and so the most repeats (same key) one kill can cause.
 */
const MAX_HELD_PER_DISPATCHER = 200 + 32 + 200;

/** Runs not yet exited plus messages not yet sent: the work left, which a kill must interrupt. */
async function workLeft(store: Store, journey: string, users: number): Promise<number> {
  const id = (await store.journeys.findByUuid(journey))?.id ?? -1;
  const { rows } = await sql<{ exited: number; sent: number }>`
    SELECT (SELECT count(*) FROM runs WHERE journey_id = ${id} AND state = 'exited') AS exited,
           (SELECT count(*) FROM outbox WHERE journey_id = ${id} AND status = 'sent') AS sent`.execute(store.backend.db);
  const row = rows[0] as { exited: number; sent: number };
  return 2 * users - Number(row.exited) - Number(row.sent);
}

describe(`postgres: kill -9 of a worker inside a batch, ${PG_KILLS} times, during a ${PG_USERS.toLocaleString('en')}-user Start-by-API journey`, { skip: postgresSkip }, () => {
  const rig = faultRig('postgres');
  let monitor: pg.Client;

  before(async () => {
    monitor = new pg.Client({ connectionString: processUrl(rig.database.url, 'fault-monitor') });
    await monitor.connect();
  });
  after(async () => {
    await monitor?.end();
  });

  it('every user gets exactly one webhook and every run exits; the statistics agree', { timeout: 170_000 }, async () => {
    const started = Date.now();
    const users = await importUsers(rig.database.url, 'k', PG_USERS);
    const api = await rig.supervisor.start('api', 'api');
    await Promise.all([rig.supervisor.start('w1', 'worker'), rig.supervisor.start('w2', 'worker')]);
    const journey = await startWebhookJourney(api.url as string, rig.sink, 'kill');
    const accepted = await startExternal(api.url as string, journey, users, 60_000);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const requestUuid = accepted.body.request_uuid as string;
    console.log(`setup ${Date.now() - started} ms`);

    // Kill the two workers in turn, each caught inside a transaction; a killed worker is restarted in the
    // background (a restart takes seconds here) while the next kill waits its 1–2 s and takes the other.
    const kills: { worker: string; at: number; tries: number; states: string[]; workLeft: number }[] = [];
    const restarting = new Map<string, Promise<unknown>>();
    for (let i = 0; i < PG_KILLS; i++) {
      await sleep(1000 + Math.random() * 1000);
      const worker = i % 2 === 0 ? 'w1' : 'w2';
      await restarting.get(worker);
      const caught = await killInsideTransaction(rig.supervisor, worker, monitor);
      const left = await workLeft(rig.store, journey, users.length);
      kills.push({ worker, at: Date.now() - started, ...caught, workLeft: left });
      // The kill must land while the journey is still being worked, or it proves nothing.
      assert.ok(left > 0, `kill ${i + 1} came after every run had exited and every message was sent`);
      restarting.set(worker, rig.supervisor.start(worker, 'worker'));
    }
    await Promise.all(restarting.values());
    console.log(`kills: ${JSON.stringify(kills)}`);

    await waitUntil('the request to be done', async () => (await requestStatus(api.url as string, journey, requestUuid)).status === 'done', 60_000);
    const status = await requestStatus(api.url as string, journey, requestUuid);
    assert.equal(status.entered, users.length, JSON.stringify(status));
    await waitForJourneyDone(rig.store, journey, users.length, 100_000);
    const report = await assertExactlyOnce(rig.store, rig.sink, journey, 'kill', users);
    await assertStatistics(api.url as string, journey, users.length);
    assert.ok(report.repeatedKeys <= kills.length * MAX_HELD_PER_DISPATCHER, `${report.repeatedKeys} repeated deliveries`);
    rig.supervisor.assertNoUnexpectedExit();
    console.log(`done in ${Date.now() - started} ms; ${report.repeatedKeys} deliveries repeated with the same key`);
  });
});

describe(`sqlite: kill -9 of the single process (role all) inside a batch, ${SQLITE_KILLS} times, during a ${SQLITE_USERS.toLocaleString('en')}-user journey`, () => {
  const rig = faultRig('sqlite');

  it('restarted on the same file, it finishes: every user gets exactly one webhook and every run exits', { timeout: 170_000 }, async () => {
    const started = Date.now();
    const users = await importUsers(rig.database.url, 's', SQLITE_USERS);
    let server = await rig.supervisor.start('all', 'all');
    const journey = await startWebhookJourney(server.url as string, rig.sink, 'kill');
    const accepted = await startExternal(server.url as string, journey, users, 60_000);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const requestUuid = accepted.body.request_uuid as string;

    const file = rig.database.url.slice('sqlite:'.length);
    const probe = new BetterSqlite3(file, { timeout: 0 });
    const kills: { at: number; tries: number; workLeft: number }[] = [];
    try {
      for (let i = 0; i < SQLITE_KILLS; i++) {
        await sleep(1000 + Math.random() * 1000);
        // Freeze it until it is caught holding the write lock (inside a batch), then kill it there.
        const child = server.child;
        let tries = 0;
        await waitUntil(
          'the process frozen inside a write transaction',
          async () => {
            tries++;
            child.kill('SIGSTOP');
            try {
              probe.exec('BEGIN IMMEDIATE');
              probe.exec('ROLLBACK');
            } catch (error) {
              if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
              throw error;
            }
            child.kill('SIGCONT');
            await sleep(Math.random() * 20);
            return false;
          },
          20_000,
        );
        await rig.supervisor.kill('all', 'SIGKILL');
        const left = await workLeft(rig.store, journey, users.length);
        kills.push({ at: Date.now() - started, tries, workLeft: left });
        assert.ok(left > 0, `kill ${i + 1} came after every run had exited and every message was sent`);
        server = await rig.supervisor.start('all', 'all');
      }
    } finally {
      probe.close();
    }
    console.log(`kills: ${JSON.stringify(kills)}`);

    await waitUntil('the request to be done', async () => (await requestStatus(server.url as string, journey, requestUuid)).status === 'done', 60_000);
    const status = await requestStatus(server.url as string, journey, requestUuid);
    assert.equal(status.entered, users.length, JSON.stringify(status));
    await waitForJourneyDone(rig.store, journey, users.length, 100_000);
    const report = await assertExactlyOnce(rig.store, rig.sink, journey, 'kill', users);
    await assertStatistics(server.url as string, journey, users.length);
    assert.ok(report.repeatedKeys <= kills.length * MAX_HELD_PER_DISPATCHER, `${report.repeatedKeys} repeated deliveries`);
    rig.supervisor.assertNoUnexpectedExit();
    console.log(`done in ${Date.now() - started} ms; ${report.repeatedKeys} deliveries repeated with the same key`);
  });
});
