import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import { TEST_APP_CODE } from '../support/app.js';
import { describeEachBackend, type TestDatabase } from '../support/backends.js';
import { call, startedJourney, startExternal, type Reply } from '../support/journeyd-http.js';
import { killJourneyd, startJourneyd, type JourneydProcess } from '../support/journeyd-process.js';
import { waitUntil } from '../support/wait-until.js';
import { preparedDatabase } from '../fault/support.js';

/**
 * Templates written to hurt, against a real `journeyd serve` with a small
 * heap: the server stays up and answering, and the messages fail with their
 * reason (docs/messages.md, "Output limits" and "Where templates render").
 */
describeEachBackend('templates that would exhaust or freeze the server', (dialect) => {
  let database: TestDatabase;
  let server: JourneydProcess;
  let url: string;

  // A fresh server and database for each test, so one test's damage cannot explain another's outcome.
  beforeEach(async () => {
    database = await preparedDatabase(dialect);
    server = await startJourneyd(database.url, { NODE_OPTIONS: '--max-old-space-size=256', LOG_LEVEL: 'warn' });
    url = server.url as string;
  });
  afterEach(async () => {
    await killJourneyd(server);
    await database.drop();
  });

  const ok = async (reply: Promise<Reply>, what: string) => {
    const answered = await reply;
    assert.equal(answered.status, 200, `${what}: ${JSON.stringify(answered.body)}`);
    return answered.body;
  };
  const registerPushUsers = async (users: readonly string[]) => {
    for (const userId of users) {
      const request = { application: TEST_APP_CODE, hwid: `${userId}-hw`, userId, device_type: 3, push_token: `${userId}-token` };
      await ok(call(url, 'POST', '/json/1.3/registerDevice', { request }), 'registerDevice');
    }
  };
  /** Start by API → (a wait of `waitSeconds`) → push with `body` → exit. */
  const pushJourney = (body: string, waitSeconds?: number) =>
    startedJourney(url, [
      {
        uuid: 'api',
        point_type: 'POINT_TYPE_START_BY_API',
        point_data: { start_by_api: {} },
        outputs: [{ key: 'default', next_point_uuid: waitSeconds === undefined ? 'push' : 'wait' }],
      },
      ...(waitSeconds === undefined
        ? []
        : [
            {
              uuid: 'wait',
              point_type: 'POINT_TYPE_WAIT',
              point_data: { wait: { delay_seconds: waitSeconds } },
              outputs: [{ key: 'default', next_point_uuid: 'push' }],
            },
          ]),
      {
        uuid: 'push',
        point_type: 'POINT_TYPE_SEND_PUSH',
        point_data: { send_push: { title: 'Hi', body } },
        outputs: [{ key: 'default', next_point_uuid: 'exit' }],
      },
      { uuid: 'exit', point_type: 'POINT_TYPE_EXIT', point_data: { exit: {} }, outputs: [] },
    ]);
  const pushFailures = async (journey: string) => {
    const { payload } = (await ok(call(url, 'GET', `/api/journey/${journey}/statistics/external`), 'statistics')) as {
      payload: { points: { uuid: string; pointStat: { failed: number } }[] };
    };
    return payload.points.find((p) => p.uuid === 'push')?.pointStat.failed ?? 0;
  };

  it('40 users on a template rendering 100 MB each: the server stays up, the 40 messages fail with the reason', async () => {
    const users = Array.from({ length: 40 }, (_, i) => `huge-${i}`);
    await registerPushUsers(users);
    const journey = await pushJourney(`{% for i in (1..1000000) %}${'x'.repeat(100)}{% endfor %}`);
    await startExternal(url, journey, users);

    await waitUntil('the 40 pushes to fail', async () => (await pushFailures(journey)) === 40, 60_000);
    assert.equal(server.child.exitCode, null, `the server exited:\n${server.output()}`);
    assert.deepEqual(await ok(call(url, 'GET', '/healthz'), 'healthz'), { status: 'ok' });
    for (const user of users) {
      const { payload } = (await ok(call(url, 'GET', `/api/journey/${journey}/messages?user_id=${user}`), 'messages')) as {
        payload: { items: { status: string; reason: string | null; recipient: string }[] };
      };
      assert.deepEqual(payload.items, [
        {
          ...payload.items[0],
          status: 'failed',
          recipient: `${user}-token`,
          reason: 'the push payload (title, body and data as JSON) renders to more than 4096 bytes',
        },
      ]);
    }
  });

  it('answers /healthz at once while looping templates render', async () => {
    // Ten journeys of five users each: ten batches back to back, each rendering for the full 1 s time
    // limit (then failing its other four at once). The runs wait 3 s first, so all are entered before
    // the renders begin (on SQLite a write waits for the batch in progress).
    const journeys = 10;
    const users = Array.from({ length: 5 }, (_, i) => `looper-${i}`);
    await registerPushUsers(users);
    const looping = '{% for a in (1..3000) %}{% for b in (1..3000) %}{% endfor %}{% endfor %}';
    const started: string[] = [];
    for (let i = 0; i < journeys; i++) started.push(await pushJourney(looping, 3));
    for (const journey of started) await startExternal(url, journey, users);

    // Rendering has begun once the first journey's render has run out of time; it is still going on
    // after the health checks if a later journey's has not: the checks were answered meanwhile. (On
    // SQLite a statistics read waits for the batch in progress, so each check is one read at a time.)
    await waitUntil('the first looping render to fail', async () => (await pushFailures(started[0] as string)) === users.length, 120_000);
    // Sent every 100 ms whatever the answers, so the samples spread over the renders rather than
    // bunching in the gaps between batches.
    const latencies = await Promise.all(
      Array.from({ length: 11 }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, i * 100));
        const sent = performance.now();
        const res = await fetch(`${url}/healthz`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        return performance.now() - sent;
      }),
    );
    let stillRendering = false;
    for (const journey of [...started].reverse()) {
      if ((await pushFailures(journey)) === 0) {
        stillRendering = true;
        break;
      }
    }
    assert.ok(stillRendering, 'every render had finished before the health checks were answered');
    const median = [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)] as number;
    const measured = `median /healthz latency ${median.toFixed(1)} ms during renders (all: ${latencies.map((l) => l.toFixed(0)).join(', ')})`;
    console.log(`${dialect}: ${measured}`);
    assert.ok(median < 100, measured);

    for (const journey of started) {
      await waitUntil('every looping render to fail', async () => (await pushFailures(journey)) === users.length, 60_000);
    }
    const { payload } = (await ok(call(url, 'GET', `/api/journey/${started[0]}/messages?user_id=looper-4`), 'messages')) as {
      payload: { items: { status: string; reason: string | null }[] };
    };
    assert.deepEqual(
      payload.items.map(({ status, reason }) => ({ status, reason })),
      [{ status: 'failed', reason: 'the template took longer than 1 s to render' }],
    );
  });
});
