import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitUntil } from '../support/wait-until.js';
import {
  assertExactlyOnce,
  assertStatistics,
  ensurePostgresUp,
  importUsers,
  faultRig,
  pgCtlCluster,
  postgresSkip,
  requestStatus,
  startExternal,
  startWebhookJourney,
  waitForJourneyDone,
} from './support.js';

/**
 * The machine's Postgres cluster restarted (`pg_ctlcluster … restart`, fast
 * mode: every connection is cut) while an api and two worker processes are in
 * the middle of a journey. The processes stay up, `/readyz` goes from 200 to
 * 503 and back, and the work resumes and completes with nothing lost and
 * nothing doubled. Postgres is shared by every test (they run one file at a
 * time); `after` makes sure it is up again whatever happened.
 */

const USERS = 20_000;

interface ReadyProbe {
  at: number;
  status: number;
}

describe(`postgres: the database restarted mid-run (${USERS.toLocaleString('en')} users, api + 2 workers)`, { skip: postgresSkip }, () => {
  // Whatever happened, Postgres is up again before anything is torn down.
  const rig = faultRig('postgres', { beforeTearDown: ensurePostgresUp });

  it('processes stay up, /readyz goes 503 then 200, and the journey completes exactly once', { timeout: 110_000 }, async () => {
    const started = Date.now();
    const users = await importUsers(rig.database.url, 'p', USERS);
    const api = await rig.supervisor.start('api', 'api');
    await Promise.all([rig.supervisor.start('w1', 'worker'), rig.supervisor.start('w2', 'worker')]);
    const url = api.url as string;
    const journey = await startWebhookJourney(url, rig.sink, 'restart');
    const accepted = await startExternal(url, journey, users);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));

    // Restart once the journey is moving: webhooks arriving, most users still to go. 60 s only bounds the
    // wait for the first 200 (a few seconds after entry) so that a stuck run fails with its name.
    await waitUntil('the first webhooks', () => rig.sink.deliveries.length >= 200, 60_000);
    const deliveredBefore = rig.sink.deliveries.length;
    assert.ok(deliveredBefore < users.length / 2, `the restart must come mid-run (${deliveredBefore} delivered)`);

    const probes: ReadyProbe[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        let status = 0;
        try {
          status = (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) })).status;
        } catch {
          status = -1; // no answer: the API process itself would be down, which the assertions below refuse
        }
        probes.push({ at: Date.now(), status });
        // Every 50 ms: /readyz is red for about 0.6 s, so a probe this often sees it red several times.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    let restartMs: number;
    try {
      // Bounds, not timings: the first probe answers within a second; the cluster restarts in ~4 s.
      await waitUntil('/readyz to answer 200 before the restart', () => probes.some((p) => p.status === 200), 10_000);
      const restartAt = Date.now();
      await pgCtlCluster('restart');
      restartMs = Date.now() - restartAt;
      await waitUntil(
        '/readyz to answer 200 after the restart',
        () =>
          probes.some(
            (p) => p.at > restartAt && p.status === 200 && probes.some((q) => q.at < p.at && q.at > restartAt && q.status !== 200),
          ),
        30_000,
      );
    } finally {
      probing = false;
      await prober;
    }
    const statuses = probes.map((p) => p.status);
    const firstRed = statuses.findIndex((s, i) => s !== 200 && statuses.slice(0, i).includes(200));
    assert.ok(firstRed > 0, `/readyz never went red after being green: ${statuses.join(',')}`);
    assert.ok(statuses.slice(firstRed).includes(200), '/readyz did not come back green');
    assert.ok(!statuses.includes(-1), 'the API process answered every probe (it stayed up)');
    assert.ok(
      statuses.filter((s) => s !== 200).every((s) => s === 503),
      `red is 503: ${[...new Set(statuses)].join(',')}`,
    );
    const red = probes.filter((p) => p.status !== 200);
    const redMs = (red[red.length - 1]?.at ?? 0) - (red[0]?.at ?? 0);
    rig.supervisor.assertNoUnexpectedExit();
    assert.ok(rig.sink.deliveries.length < users.length, 'the restart happened before the journey finished');

    // Bounds that only name what hung: entry and delivery of 20,000 users take 10–30 s here.
    await waitUntil(
      'the request to be done',
      async () => (await requestStatus(url, journey, accepted.body.request_uuid as string)).status === 'done',
      60_000,
    );
    const status = await requestStatus(url, journey, accepted.body.request_uuid as string);
    assert.equal(status.entered, users.length, JSON.stringify(status));
    await waitForJourneyDone(rig.store, journey, users.length, 80_000);
    const report = await assertExactlyOnce(rig.store, rig.sink, journey, 'restart', users);
    assert.equal(report.repeatedKeys, 0, 'no message acknowledged twice');
    await assertStatistics(url, journey, users.length);
    rig.supervisor.assertNoUnexpectedExit();
    console.log(
      `done in ${Date.now() - started} ms; pg restart took ${restartMs} ms, /readyz red for ${redMs} ms; ${deliveredBefore} delivered before it`,
    );
  });
});
