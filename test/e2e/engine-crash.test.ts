import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import pg from 'pg';
import { faultPointLine } from '../../src/fault-points.js';
import { describeEachBackend } from '../support/backends.js';
import { startHttpSink, type HttpSink } from '../support/http-sink.js';
import { waitUntil } from '../support/wait-until.js';
import { exitPoint, point, startEngineApp, type EngineApp } from './engine-harness.js';

const WORKER = fileURLToPath(new URL('./scheduler-process.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The SQLite worker's batch (of one run) that it is killed inside. */
const KILLED_IN_BATCH = 10;

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  /** Resolves when it has exited and its output is all read. */
  readonly closed: Promise<{ signal: NodeJS.Signals | null; output: string }>;
}

/** A scheduler process; with `fault` (JOURNEYD_FAULT), armed to kill itself there. */
function startWorker(databaseUrl: string, batchSize: number, fault?: string): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, databaseUrl, String(batchSize)], {
    cwd: ROOT,
    env: fault === undefined ? process.env : { ...process.env, JOURNEYD_FAULT: fault },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const closed = new Promise<{ signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.once('close', (_code, signal) => resolve({ signal, output })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready')) resolve();
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
  return { child, ready, closed };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Users with one device each; the journey posts one webhook per user. */
async function webhookJourney(app: EngineApp, sink: HttpSink, users: number): Promise<{ journey: string; userIds: string[] }> {
  const userIds = Array.from({ length: users }, (_, i) => `crash-${String(i).padStart(4, '0')}`);
  for (const userId of userIds) {
    await app.device('registerDevice', { hwid: `${userId}-phone`, userId, device_type: 1, push_token: `tok-${userId}` });
  }
  const journey = await app.journey([
    point('api', 'START_BY_API', { start_by_api: {} }, { default: 'hook' }),
    point('hook', 'WEBHOOK', { webhook: { url: `${sink.url}/crash/{{ user_id }}`, method: 'GET' } }, { default: 'exit' }),
    exitPoint(),
  ]);
  await app.enter(journey, { payload: { users: userIds } });
  await app.until(journey, 'every user entered', (s) => s.point('api').entered === users);
  return { journey, userIds };
}

/** After recovery: every user got exactly one webhook, the journey's books balance. */
async function assertExactlyOnce(app: EngineApp, sink: HttpSink, journey: string, userIds: readonly string[]): Promise<void> {
  const stats = await app.until(
    journey,
    'every run exited and every webhook recorded',
    (s) => s.totals.exited === userIds.length && s.point('hook').pointStat.sent === userIds.length,
    30_000,
  );
  assert.deepEqual(stats.totals, { entered: userIds.length, in_journey: 0, exited: userIds.length });
  assert.deepEqual([stats.point('hook').entered, stats.point('hook').passed], [userIds.length, userIds.length]);
  const paths = sink.requests.map((r) => r.path).sort();
  assert.deepEqual(paths, userIds.map((u) => `/crash/${u}`).sort(), 'one webhook per user, none twice');
  const outbox = await app.store.backend.db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  assert.equal(Number(outbox.n), userIds.length);
}

describeEachBackend('engine: a worker killed between claiming and committing', (dialect) => {
  let app: EngineApp;
  let sink: HttpSink;
  const children: ChildProcess[] = [];

  before(async () => {
    app = await startEngineApp(dialect, { workers: false });
    sink = await startHttpSink();
  });
  after(async () => {
    await Promise.all(children.map(kill));
    await app.close();
    await sink.close();
  });

  if (dialect === 'postgres') {
    it('is rolled back by the server and its batch re-runs: no webhook twice, none lost', async () => {
      const { journey, userIds } = await webhookJourney(app, sink, 20);
      const workerName = `journeyd-crash-${process.pid}`;
      const url = new URL(app.database.url);
      url.searchParams.set('application_name', workerName);

      // Hold the outbox so the worker's webhook batch blocks between its claim and its commit.
      const blocker = new pg.Client({ connectionString: app.database.url });
      // Watches from outside any transaction: within one, pg_stat_activity is a snapshot taken at its first read.
      const monitor = new pg.Client({ connectionString: app.database.url });
      await blocker.connect();
      await monitor.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE outbox IN SHARE MODE');
        const worker = startWorker(url.toString(), 50);
        children.push(worker.child);
        await worker.ready;
        await waitUntil(
          'the worker blocked inside its webhook batch',
          async () => {
            const { rows } = await monitor.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
              [workerName],
            );
            return rows[0].n > 0;
          },
          30_000,
        );
        // The batch (entry point, webhook, exit in one transaction) has written nothing anyone can see.
        const claimed = await monitor.query(`SELECT count(*)::int AS n FROM runs WHERE point_uuid = 'api' AND state = 'active'`);
        assert.equal(claimed.rows[0].n, userIds.length, 'the runs are still at the entry point');
        await kill(worker.child);
        await blocker.query('COMMIT');
        await waitUntil('the server to notice the dead worker', async () => {
          const { rows } = await monitor.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [workerName]);
          return rows[0].n === 0;
        });
      } finally {
        await blocker.end();
        await monitor.end();
      }
      assert.equal(sink.requests.length, 0, 'nothing was committed, so nothing was sent');

      await app.startWorkers();
      await assertExactlyOnce(app, sink, journey, userIds);
    });
  } else {
    it('is rolled back with its transaction and its batch re-runs: no webhook twice, none lost', async () => {
      const { journey, userIds } = await webhookJourney(app, sink, 300);
      // One run per batch: it commits nine (webhooks enqueued) and dies inside the tenth, holding the write lock.
      const worker = startWorker(app.database.url, 1, `scheduler.batch.before-commit:${KILLED_IN_BATCH}`);
      children.push(worker.child);
      await worker.ready;
      const { signal, output } = await worker.closed;
      assert.equal(signal, 'SIGKILL', output);
      assert.ok(output.includes(faultPointLine('scheduler.batch.before-commit')), `it died at the fault point:\n${output}`);
      const enqueued = await app.store.backend.db
        .selectFrom('outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      assert.ok(Number(enqueued.n) > 0, 'batches committed before the kill');
      const stats = await app.statistics(journey);
      assert.ok(stats.totals.exited < userIds.length, 'the worker was killed before it finished');

      await app.startWorkers();
      await assertExactlyOnce(app, sink, journey, userIds);
    });
  }
});
