import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, it } from 'node:test';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import { Store } from '../../src/store/store.js';
import { TEST_API_TOKEN, TEST_APP_CODE } from '../support/app.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { waitUntil } from '../support/wait-until.js';
import { apiPoint, exitPoint } from './start-external-support.js';

const STARTUP_TIMEOUT_MS = 60_000;

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
}

/** `journeyd serve` as a real child process on an ephemeral port; resolves once it prints its URL. */
async function startServer(databaseUrl: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    env: { ...process.env, JOURNEYD_DATABASE_URL: databaseUrl, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`journeyd did not start:\n${output}`)), STARTUP_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`journeyd exited with ${code}:\n${output}`));
    });
  });
  return { child, url };
}

async function stopServer(server: Server): Promise<number | null> {
  if (server.child.exitCode !== null) return server.child.exitCode;
  const exited = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return code;
}

async function call(server: Server, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Api ${TEST_API_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describeEachBackend('Start by API: two server processes on one database', (dialect) => {
  let database: TestDatabase;
  const servers: Server[] = [];

  before(async () => {
    database = await createTestDatabase(dialect);
    const store = Store.open(database.url);
    await store.migrate();
    await bootstrapIfEmpty(store, TEST_APP_CODE, TEST_API_TOKEN);
    await store.close();
    servers.push(...(await Promise.all([startServer(database.url), startServer(database.url)])));
  });
  after(async () => {
    await Promise.all(servers.map(stopServer));
    await database.drop();
  });

  it('accepts exactly one of 50 concurrent requests split over both, and one of them enters the users', async () => {
    const [a, b] = servers as [Server, Server];
    for (const userId of ['ann', 'bob']) {
      const registered = await call(a, 'POST', '/json/1.3/registerDevice', {
        request: { application: TEST_APP_CODE, hwid: `hw-${userId}`, userId, device_type: 3 },
      });
      assert.equal(registered.status, 200);
    }
    const created = await call(a, 'POST', '/api/v3/journeygateway', {
      title: 'two processes',
      params: { application_code: TEST_APP_CODE },
      points: [apiPoint(), exitPoint()],
    });
    const journey = (created.body.info as { uuid: string }).uuid;
    assert.equal((await call(b, 'POST', '/api/v3/journeygateway/start', { uuid: journey })).status, 200);

    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call(i % 2 === 0 ? a : b, 'POST', `/api/journey/${journey}/start/external`, {
          payload: { users: ['ann', 'bob', `ghost-${i}`] },
        }),
      ),
    );
    const accepted = replies.filter((r) => r.status === 200);
    assert.equal(accepted.length, 1, JSON.stringify(replies.map((r) => r.status)));
    for (const r of replies.filter((r) => r.status !== 200)) {
      assert.equal(r.status, 400);
      assert.equal(r.body.message, 'Enhance your calm! only one request per minute is allowed');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }

    const requestUuid = accepted[0]?.body.request_uuid as string;
    // 20 s only bounds it: two users are entered within a claim or two.
    const status = await waitUntil(
      'the request to be done',
      async () => {
        const current = (await call(b, 'GET', `/api/journey/${journey}/start/external/${requestUuid}`)).body;
        return current.status === 'done' && current;
      },
      20_000,
    );
    assert.equal(status.status, 'done');
    assert.equal(status.entered, 2);
    assert.deepEqual(status.skipped, { unknown: 1, already_in_journey: 0 });
    const statistics = await call(a, 'GET', `/api/journey/${journey}/statistics/external`);
    // The engine in these processes may already have moved them on to the exit.
    const totals = (statistics.body.payload as { totals: { entered: number; in_journey: number; exited: number } }).totals;
    assert.equal(totals.entered, 2);
    assert.equal(totals.in_journey + totals.exited, 2);
  });

  it('stops both processes cleanly on SIGTERM', async () => {
    const codes = await Promise.all(servers.map(stopServer));
    assert.deepEqual(codes, [0, 0]);
  });
});
