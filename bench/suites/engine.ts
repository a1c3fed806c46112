/**
 * Engine benchmarks (docs/engine.md):
 *
 *   million <dialect>         1,000,000 runs entered at the start of start → boolean split →
 *                             send push → exit (inserted as the entry worker inserts them; entering
 *                             is the start-external suite's measurement): seconds until every run
 *                             exited, runs/s per point, peak RSS. The dispatcher is not running:
 *                             delivering the pushes is the messages benchmark's business.
 *   lateness <dialect>        100,000 runs held at a WAIT point, all due within the same second:
 *                             p50 / p99 / max of (batch start − due time).
 *   batch-size <dialect>      200,000 runs through the same journey at several batch sizes
 *                             (and, on Postgres, several concurrent batches): the figures behind
 *                             the defaults in src/engine/scheduler.ts.
 *   claim <dialect>           what claiming 200,000 runs costs as a leased UPDATE … RETURNING plus
 *                             the release at commit, against the transaction-scoped SELECT the
 *                             scheduler uses.
 *   scaling                   Postgres: the million journey executed by 1, 2 and 4 worker processes
 *                             (each a Scheduler alone, as in million), runs/s and speed-up, with the
 *                             CPU seconds the workers and the Postgres server spent, to tell which
 *                             one the machine's cores were busy with.
 *
 * Without arguments it runs million and lateness on both backends and scaling, each in its own
 * child process (so each reports its own peak RSS).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { Scheduler, type BatchReport } from '../../src/engine/scheduler.js';
import { createLogger } from '../../src/logger.js';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import type { Dialect } from '../../src/store/backend.js';
import { Store } from '../../src/store/store.js';
import { createDatabase, point, seedUsers, spawnSuiteChild } from '../fixtures.js';
import { peakRssMb, report } from '../report.js';

const APP_CODE = 'BENCH-00001';
const TOKEN = 'bench-token';
const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const logger = createLogger('warn');

const MILLION = 1_000_000;
const LATENESS_RUNS = 100_000;
const TUNING_RUNS = 200_000;

/** start → split (half the users are gold) → a push per branch → exit. */
const SPLIT_PUSH_EXIT = [
  point('start', 'START_BY_API', { start_by_api: { attributes: [{ name: 'promo_code', default: 'NONE' }] } }, { default: 'split' }),
  point('split', 'BOOLEAN_SPLITTER', { boolean_splitter: { filter: 'T("Tier", eq, "gold")' } }, { output1: 'push-gold', default: 'push' }),
  point('push-gold', 'SEND_PUSH', { send_push: { title: 'Hi {{ user_id }}', body: 'Gold code {{ promo_code }}' } }, { default: 'exit' }),
  point('push', 'SEND_PUSH', { send_push: { title: 'Hi {{ user_id }}', body: 'Your code {{ promo_code }}' } }, { default: 'exit' }),
  point('exit', 'EXIT', {}),
];

const WAIT_EXIT = [
  point('start', 'START_BY_API', { start_by_api: {} }, { default: 'wait' }),
  point('wait', 'WAIT', { wait: { delay_seconds: 3600 } }, { default: 'exit' }),
  point('exit', 'EXIT', {}),
];

function runAll(): void {
  let failed = 0;
  for (const args of [['million', 'sqlite'], ['million', 'postgres'], ['lateness', 'sqlite'], ['lateness', 'postgres'], ['scaling']]) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', SELF, ...args], { stdio: 'inherit', cwd: ROOT });
    if (child.status !== 0) failed++;
  }
  process.exit(failed > 0 ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------

interface Bench {
  /** The database's `JOURNEYD_DATABASE_URL`, for worker processes. */
  readonly url: string;
  readonly store: Store;
  readonly applicationId: number;
  close(): Promise<void>;
}

async function openBench(dialect: Dialect): Promise<Bench> {
  const database = await createDatabase(dialect);
  const store = Store.open(database.url);
  await store.migrate();
  await bootstrapIfEmpty(store, APP_CODE, TOKEN);
  const application = await store.applications.findByCode(APP_CODE);
  if (!application) throw new Error('no bench application');
  return {
    url: database.url,
    store,
    applicationId: application.id,
    async close() {
      await store.close();
      await database.drop();
    },
  };
}

async function runningJourney(bench: Bench, points: unknown[]): Promise<{ id: number; uuid: string }> {
  const now = Date.now();
  const uuid = randomUUID();
  const row = await bench.store.backend.db
    .insertInto('journeys')
    .values({
      uuid,
      application_id: bench.applicationId,
      title: 'engine bench',
      status: 'STATUS_RUNNING',
      params: JSON.stringify({ application_code: APP_CODE }),
      points: JSON.stringify(points),
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: Number(row.id), uuid };
}

/** One active run per user at `pointUuid`, as the entry worker inserts them, due at `dueAt`. */
async function seedRuns(bench: Bench, journeyId: number, pointUuid: string, dueAt: number, waiting: boolean): Promise<void> {
  const now = Date.now();
  await sql`
    INSERT INTO runs (journey_id, application_id, user_id, point_uuid, state, due_at, attributes, entered_at, updated_at,
                      waiting_point)
    SELECT ${journeyId}, ${bench.applicationId}, d.user_id, ${pointUuid}, 'active', ${dueAt}, '{"promo_code":"B"}',
           ${now}, ${now}, ${waiting ? pointUuid : null}
    FROM devices d WHERE d.application_id = ${bench.applicationId}`.execute(bench.store.backend.db);
  if (bench.store.dialect === 'postgres') await sql`ANALYZE runs`.execute(bench.store.backend.db);
}

async function exitedCount(store: Store, journeyId: number): Promise<number> {
  const row = await store.backend.db
    .selectFrom('journey_point_counters')
    .select('passed')
    .where('journey_id', '=', journeyId)
    .where('point_uuid', '=', 'exit')
    .executeTakeFirst();
  return Number(row?.passed ?? 0);
}

/**
 * Waits until `expected` runs exited or `timeoutMs` passed (keeping the suite
 * within its time budget on a slow machine); returns how many exited.
 */
async function untilExited(store: Store, journeyId: number, expected: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = await exitedCount(store, journeyId);
    if (exited >= expected || Date.now() > deadline) return exited;
    await sleep(100);
  }
}

/**
 * Runs per second of each point type over the time spent executing it, and of
 * the batches' final writes (moves, counters, outbox rows, commit) over theirs.
 */
function perPoint(batches: readonly BatchReport[], runs: number): Record<string, number> {
  const byType = new Map<string, { runs: number; ms: number }>();
  const batchSpans = new Map<string, { total: number; executing: number }>();
  for (const b of batches) {
    const type = b.pointType.replace('POINT_TYPE_', '').toLowerCase();
    const entry = byType.get(type) ?? { runs: 0, ms: 0 };
    entry.runs += b.runs;
    entry.ms += b.executionMs;
    byType.set(type, entry);
    const key = `${b.journeyId}:${b.startedAt}:${b.committedAt}`;
    const span = batchSpans.get(key) ?? { total: b.committedAt - b.startedAt, executing: 0 };
    span.executing += b.executionMs;
    batchSpans.set(key, span);
  }
  const figures: Record<string, number> = {};
  for (const [type, { runs: n, ms }] of byType) figures[`${type}_runs/s`] = (n / ms) * 1000;
  const writingMs = [...batchSpans.values()].reduce((sum, span) => sum + Math.max(0, span.total - span.executing), 0);
  figures['writes_runs/s'] = (runs / writingMs) * 1000;
  return figures;
}

// ---------------------------------------------------------------------------------------------

async function million(dialect: Dialect): Promise<void> {
  const bench = await openBench(dialect);
  try {
    const setupStarted = Date.now();
    await seedUsers(bench.store, bench.applicationId, MILLION);
    const journey = await runningJourney(bench, SPLIT_PUSH_EXIT);
    await seedRuns(bench, journey.id, 'start', Date.now(), false);
    const setupSeconds = (Date.now() - setupStarted) / 1000;

    const batches: BatchReport[] = [];
    const scheduler = new Scheduler(bench.store, { logger, onBatch: (b) => batches.push(b) });
    const started = Date.now();
    await scheduler.start();
    try {
      const exited = await untilExited(bench.store, journey.id, MILLION, 150_000);
      const seconds = (Date.now() - started) / 1000;
      report(`1M entered runs → split → push → exit (${dialect})`, {
        exited: exited === MILLION ? 'all' : `${exited} (stopped at the time budget)`,
        seconds,
        'runs/s': exited / seconds,
        target_s: dialect === 'sqlite' ? '<= 20' : 'reported',
        peak_rss_mb: peakRssMb(),
        setup_s: setupSeconds,
      });
      report(`1M runs: per point while executing (${dialect})`, perPoint(batches, exited));
      const messages = await bench.store.backend.db
        .selectFrom('outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      if (Number(messages.n) !== exited) throw new Error(`${messages.n} pushes enqueued for ${exited} runs exited`);
    } finally {
      await scheduler.stop();
    }
  } finally {
    await bench.close();
  }
}

async function lateness(dialect: Dialect): Promise<void> {
  const bench = await openBench(dialect);
  try {
    await seedUsers(bench.store, bench.applicationId, LATENESS_RUNS);
    const journey = await runningJourney(bench, WAIT_EXIT);
    // Every run has begun its wait, all due within the same second, a few seconds from now.
    const dueAt = Math.ceil((Date.now() + 5_000) / 1000) * 1000;
    await seedRuns(bench, journey.id, 'wait', dueAt, true);
    await sql`UPDATE runs SET due_at = due_at + (id % 1000)`.execute(bench.store.backend.db);
    if (dialect === 'postgres') await sql`VACUUM ANALYZE runs`.execute(bench.store.backend.db);

    const lateMs: number[] = [];
    const scheduler = new Scheduler(bench.store, {
      logger,
      onBatch: (b) => {
        if (b.pointUuid === 'wait') for (const due of b.dueAts) lateMs.push(b.startedAt - due);
      },
    });
    await scheduler.start();
    try {
      const exited = await untilExited(bench.store, journey.id, LATENESS_RUNS, 120_000);
      if (exited < LATENESS_RUNS) throw new Error(`only ${exited} of ${LATENESS_RUNS} runs left the wait in time`);
    } finally {
      await scheduler.stop();
    }
    lateMs.sort((a, b) => a - b);
    const at = (q: number) => lateMs[Math.min(lateMs.length - 1, Math.floor(q * lateMs.length))] as number;
    report(`100k runs due in one second: lateness (${dialect})`, {
      p50_ms: at(0.5),
      p99_ms: at(0.99),
      max_ms: lateMs[lateMs.length - 1] as number,
      target: 'p99 <= 1000',
      peak_rss_mb: peakRssMb(),
    });
  } finally {
    await bench.close();
  }
}

async function batchSizes(dialect: Dialect): Promise<void> {
  const sizes = dialect === 'postgres' ? [1_000, 2_000, 5_000] : [500, 1_000, 2_000, 5_000, 10_000];
  const concurrencies = dialect === 'postgres' ? [1, 2, 4] : [1];
  const bench = await openBench(dialect);
  try {
    await seedUsers(bench.store, bench.applicationId, TUNING_RUNS);
    for (const concurrency of concurrencies) {
      for (const batchSize of sizes) {
        const journey = await runningJourney(bench, SPLIT_PUSH_EXIT);
        await seedRuns(bench, journey.id, 'start', Date.now(), false);
        // The previous sizes' journeys have no runs left; finishing them keeps them out of the scheduler's reading.
        await sql`UPDATE journeys SET status = 'STATUS_FINISHED' WHERE id <> ${journey.id}`.execute(bench.store.backend.db);
        let longest = 0;
        const scheduler = new Scheduler(bench.store, {
          logger,
          batchSize,
          concurrency,
          onBatch: (b) => (longest = Math.max(longest, b.committedAt - b.startedAt)),
        });
        const started = Date.now();
        await scheduler.start();
        const exited = await untilExited(bench.store, journey.id, TUNING_RUNS, 170_000);
        const seconds = (Date.now() - started) / 1000;
        await scheduler.stop();
        report(`batch ${batchSize}, concurrency ${concurrency} (${dialect})`, {
          'runs/s': exited / seconds,
          longest_batch_ms: longest,
        });
        await sql`DELETE FROM runs`.execute(bench.store.backend.db);
        await sql`DELETE FROM outbox`.execute(bench.store.backend.db);
        // Each size starts from the same state: no dead rows left by the previous one.
        if (dialect === 'postgres') await sql`VACUUM ANALYZE runs, outbox, journey_point_counters`.execute(bench.store.backend.db);
      }
    }
  } finally {
    await bench.close();
  }
}

/**
 * The alternative to a transaction-scoped claim is a leased one: an UPDATE that
 * writes lease_owner / lease_expires_at on every claimed run (RETURNING them),
 * and at commit a second write clearing it. This times that extra work against
 * the scheduler's SELECT (… FOR UPDATE SKIP LOCKED) over the same batches.
 */
async function claimStrategies(dialect: Dialect): Promise<void> {
  const bench = await openBench(dialect);
  const batchSize = 2_000;
  try {
    await seedUsers(bench.store, bench.applicationId, TUNING_RUNS);
    const journey = await runningJourney(bench, WAIT_EXIT);
    await seedRuns(bench, journey.id, 'start', Date.now(), false);
    const db = bench.store.backend.db;
    const lock = dialect === 'postgres' ? sql`FOR UPDATE SKIP LOCKED` : sql``;
    const due = sql`SELECT id FROM runs WHERE journey_id = ${journey.id} AND state = 'active' AND point_uuid = 'start'
                    AND due_at <= ${Date.now()} AND lease_owner IS NULL ORDER BY due_at LIMIT ${batchSize} ${lock}`;

    let started = Date.now();
    for (let claimed = 0; claimed < TUNING_RUNS; claimed += batchSize) {
      await db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ id: number }>`SELECT id, user_id, attributes, due_at FROM runs WHERE id IN (${due})`.execute(trx);
        // The move the batch makes anyway, so that the next batch finds the next runs.
        await sql`UPDATE runs SET point_uuid = 'wait' WHERE id IN (${sql.join(rows.map((r) => r.id))})`.execute(trx);
      });
    }
    const selectSeconds = (Date.now() - started) / 1000;
    await sql`UPDATE runs SET point_uuid = 'start'`.execute(db);

    started = Date.now();
    for (let claimed = 0; claimed < TUNING_RUNS; claimed += batchSize) {
      const { rows } = await sql<{ id: number }>`
        UPDATE runs SET lease_owner = 'bench', lease_expires_at = ${Date.now() + 30_000}
        WHERE id IN (${due}) RETURNING id, user_id, attributes, due_at`.execute(db);
      await db.transaction().execute(async (trx) => {
        await sql`UPDATE runs SET point_uuid = 'wait', lease_owner = NULL, lease_expires_at = NULL
                  WHERE id IN (${sql.join(rows.map((r) => r.id))}) AND lease_owner = 'bench'`.execute(trx);
      });
    }
    const leaseSeconds = (Date.now() - started) / 1000;
    report(`claim 200k runs in batches of ${batchSize} (${dialect})`, {
      transaction_claim_s: selectSeconds,
      leased_claim_s: leaseSeconds,
      'transaction_runs/s': TUNING_RUNS / selectSeconds,
      'leased_runs/s': TUNING_RUNS / leaseSeconds,
    });
  } finally {
    await bench.close();
  }
}

const SCALING_WORKERS = [1, 2, 4];

/** A worker process of the scaling mode: one Scheduler on `url` until SIGTERM, then its CPU seconds. */
async function schedulerProcess(url: string): Promise<void> {
  const store = Store.open(url);
  const scheduler = new Scheduler(store, { logger });
  await scheduler.start();
  console.log('scheduling');
  process.once('SIGTERM', () => {
    void scheduler
      .stop()
      .then(() => store.close())
      .then(() => {
        const { user, system } = process.cpuUsage();
        console.log(`cpu ${(user + system) / 1e6}`);
        process.exit(0);
      });
  });
}

function spawnSchedulerProcess(url: string): { ready: Promise<void>; stop(): Promise<number> } {
  const { child, nextLine: line } = spawnSuiteChild(SELF, ['scheduler-process', url]);
  const ready = line('scheduling').then(() => undefined);
  return {
    ready,
    async stop() {
      const cpu = line('cpu ');
      child.kill('SIGTERM');
      return Number(await cpu);
    },
  };
}

/** CPU seconds (user + system) spent so far by every process of the local Postgres server. */
function postgresCpuSeconds(): number {
  const ticksPerSecond = 100;
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended while we read.
    }
  }
  return ticks / ticksPerSecond;
}

async function scaling(): Promise<void> {
  const bench = await openBench('postgres');
  try {
    await seedUsers(bench.store, bench.applicationId, MILLION);
    const journey = await runningJourney(bench, SPLIT_PUSH_EXIT);
    let single: number | undefined;
    for (const workers of SCALING_WORKERS) {
      await sql`TRUNCATE runs, outbox, message_deliveries, journey_point_counters`.execute(bench.store.backend.db);
      await seedRuns(bench, journey.id, 'start', Date.now(), false);
      const processes = Array.from({ length: workers }, () => spawnSchedulerProcess(bench.url));
      await Promise.all(processes.map((p) => p.ready));
      const postgresBefore = postgresCpuSeconds();
      const started = Date.now();
      const exited = await untilExited(bench.store, journey.id, MILLION, 240_000);
      const seconds = (Date.now() - started) / 1000;
      const postgresCpu = postgresCpuSeconds() - postgresBefore;
      const workersCpu = (await Promise.all(processes.map((p) => p.stop()))).reduce((a, b) => a + b, 0);
      const runsPerSecond = exited / seconds;
      single ??= runsPerSecond;
      report(`1M runs, ${workers} worker process(es) (postgres)`, {
        exited: exited === MILLION ? 'all' : `${exited} (stopped at the time budget)`,
        seconds,
        'runs/s': runsPerSecond,
        speedup: runsPerSecond / single,
        workers_cpu_s: workersCpu,
        postgres_cpu_s: postgresCpu,
        cores_busy: (workersCpu + postgresCpu) / seconds,
        of_cores: cpus().length,
      });
    }
  } finally {
    await bench.close();
  }
}

const [mode, argument] = process.argv.slice(2);
const dialect: Dialect = argument === 'postgres' ? 'postgres' : 'sqlite';
switch (mode) {
  case undefined:
    runAll();
    break;
  case 'million':
    await million(dialect);
    break;
  case 'lateness':
    await lateness(dialect);
    break;
  case 'batch-size':
    await batchSizes(dialect);
    break;
  case 'claim':
    await claimStrategies(dialect);
    break;
  case 'scaling':
    await scaling();
    break;
  case 'scheduler-process':
    await schedulerProcess(argument ?? '');
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
