import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import { Store } from '../../src/store/store.js';
import { TEST_API_TOKEN, TEST_APP_CODE } from '../support/app.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { startHttpSink, type HttpSink } from '../support/http-sink.js';
import { registerUsers, startedJourney, startExternal } from '../support/journeyd-http.js';
import { killJourneyd, startJourneyd, type JourneydProcess } from '../support/journeyd-process.js';
import { waitUntil } from '../support/wait-until.js';
import { apiPoint, EXIT_POINT, exitPoint } from '../http/start-external-support.js';

async function preparedDatabase(dialect: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  const database = await createTestDatabase(dialect);
  const store = Store.open(database.url);
  await store.migrate();
  await bootstrapIfEmpty(store, TEST_APP_CODE, TEST_API_TOKEN);
  await store.close();
  return database;
}

/** What a process whose output is gone can still be asked: whether it has exited, and how. */
function exitOf(process: JourneydProcess): () => { code: number | null; signal: NodeJS.Signals | null } | undefined {
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void process.exited.then((e) => (exit = e));
  return () => exit;
}

function logged(process: JourneydProcess, message: string): Record<string, unknown> | undefined {
  return process.logLines().find((line) => line.msg === message);
}

/** A journey whose one webhook goes to `sink`, entered by `users`; resolves once the sink holds a delivery. */
async function deliveryInFlight(process: JourneydProcess, sink: HttpSink, users: string[]): Promise<void> {
  const url = process.url as string;
  await registerUsers(url, users);
  const webhook = {
    uuid: 'hook',
    point_type: 'POINT_TYPE_WEBHOOK',
    point_data: { webhook: { url: `${sink.url}/{{ user_id }}`, method: 'GET' } },
    outputs: [{ key: 'default', next_point_uuid: EXIT_POINT }],
  };
  const entry = { ...apiPoint(), outputs: [{ key: 'default', next_point_uuid: 'hook' }] };
  const journey = await startedJourney(url, [entry, webhook, exitPoint()]);
  await startExternal(url, journey, users);
  await waitUntil('a webhook delivery to be in flight', () => sink.requests.length > 0, 20_000);
}

describeEachBackend('SIGTERM', (dialect) => {
  let database: TestDatabase;
  let journeyd: JourneydProcess | undefined;
  before(async () => {
    database = await preparedDatabase(dialect);
  });
  after(async () => {
    if (journeyd) await killJourneyd(journeyd);
    await database.drop();
  });

  it('stops the server and the workers, closes the store and exits 0; a request answered 200 before it is kept', async () => {
    journeyd = await startJourneyd(database.url);
    const url = journeyd.url as string;
    await registerUsers(url, ['ann', 'bob']);
    const journey = await startedJourney(url, [apiPoint(), exitPoint()]);
    const requestUuid = await startExternal(url, journey, ['ann', 'bob']);

    journeyd.child.kill('SIGTERM');
    const { code } = await journeyd.exited;
    assert.equal(code, 0, journeyd.output());
    assert.equal(logged(journeyd, 'shutting down: refusing new requests and work, finishing what is in hand')?.signal, 'SIGTERM');
    assert.equal(typeof logged(journeyd, 'shutdown complete')?.durationMs, 'number', journeyd.output());
    assert.equal(logged(journeyd, 'shutdown timed out; exiting with work in hand, which is taken again when its leases expire'), undefined);

    const store = Store.open(database.url);
    try {
      const stored = await store.journeys.findByUuid(journey);
      assert.ok(stored);
      const request = await store.entry.findRequest(stored.id, requestUuid);
      assert.equal(request?.uuid, requestUuid, 'the accepted request survived the shutdown');
    } finally {
      await store.close();
    }
  });

  it('exits 0 on SIGTERM after the reader of its stdout has gone (`journeyd serve | head -c 300`)', async () => {
    journeyd = await startJourneyd(database.url, { JOURNEYD_SHUTDOWN_TIMEOUT_MS: '5000' });
    // A request answered means start-up is over and the signal handlers are installed.
    assert.equal((await fetch(`${journeyd.url}/healthz`)).status, 200);
    journeyd.child.stdout?.destroy();
    const exit = exitOf(journeyd);
    journeyd.child.kill('SIGTERM');
    // 30 s: a bound a busy machine meets for a stop that takes milliseconds; a process stuck writing its log never exits.
    assert.deepEqual(await waitUntil('the process to exit after SIGTERM', exit, 30_000), { code: 0, signal: null });
  });
});

describe('sqlite: shutdown that cannot finish (a webhook receiver that never answers)', () => {
  let database: TestDatabase;
  let sink: HttpSink;
  let journeyd: JourneydProcess | undefined;
  before(async () => {
    sink = await startHttpSink(() => 'hang');
  });
  afterEach(async () => {
    if (journeyd) await killJourneyd(journeyd);
    journeyd = undefined;
    await database.drop();
  });
  after(() => sink.close());

  it('exits 1 with a log line once JOURNEYD_SHUTDOWN_TIMEOUT_MS has passed', async () => {
    database = await preparedDatabase('sqlite');
    journeyd = await startJourneyd(database.url, { JOURNEYD_SHUTDOWN_TIMEOUT_MS: '500' });
    await deliveryInFlight(journeyd, sink, ['cy']);

    const signalledAt = Date.now();
    journeyd.child.kill('SIGTERM');
    const { code } = await journeyd.exited;
    assert.equal(code, 1, journeyd.output());
    assert.ok(Date.now() - signalledAt >= 500);
    assert.deepEqual(
      logged(journeyd, 'shutdown timed out; exiting with work in hand, which is taken again when its leases expire')?.timeoutMs,
      500,
      journeyd.output(),
    );
    assert.equal(logged(journeyd, 'shutdown complete'), undefined);
  });

  it('exits at once on a second signal, with 128 + its number', async () => {
    database = await preparedDatabase('sqlite');
    journeyd = await startJourneyd(database.url);
    await deliveryInFlight(journeyd, sink, ['dee']);

    const running = journeyd;
    running.child.kill('SIGTERM');
    await waitUntil('the shutdown to begin', () =>
      logged(running, 'shutting down: refusing new requests and work, finishing what is in hand'),
    );
    running.child.kill('SIGINT');
    const { code } = await journeyd.exited;
    assert.equal(code, 130, journeyd.output());
    assert.equal(logged(journeyd, 'second signal during shutdown; exiting at once')?.signal, 'SIGINT');
  });

  it('exits at once on a second signal after the reader of its stdout has gone', async () => {
    database = await preparedDatabase('sqlite');
    journeyd = await startJourneyd(database.url);
    await deliveryInFlight(journeyd, sink, ['eve']);
    const url = journeyd.url as string;

    journeyd.child.stdout?.destroy();
    const exit = exitOf(journeyd);
    journeyd.child.kill('SIGTERM');
    // With its log gone, the shutdown shows by the API refusing connections.
    await waitUntil('the shutdown to begin', () =>
      fetch(`${url}/healthz`).then(
        () => false,
        () => true,
      ),
    );
    journeyd.child.kill('SIGTERM');
    assert.deepEqual(await waitUntil('the process to exit after the second SIGTERM', exit, 30_000), { code: 143, signal: null });
  });
});
