/**
 * Start by API (docs/start-by-api.md):
 *
 *   load <dialect>      10,000 running journeys, each with an API entry point. autocannon sends
 *                       9,000 requests each accepted (one per journey, so the one-per-minute limit
 *                       refuses none) mixed with 1,000 invalid ones (no selector,
 *                       two selectors, numeric ids, an unknown attribute, an unknown journey), after
 *                       a warm-up of 11,000 more on 1,000 other journeys (most refused by the rate
 *                       limit, which runs the whole path, commit included). The same requests then go to a bare fastify route
 *                       that answers `{"request_uuid"}` without reading anything: requests/s,
 *                       p50/p99 latency of both, and the ratio. Three rounds, each on a fresh
 *                       database, the two servers taking turns going first; the ratio reported is
 *                       the median of the rounds'. The entry worker runs in the server process,
 *                       entering users as requests are accepted, as under `serve`; the server's CPU
 *                       time is read once every accepted request is entered, and how long after the
 *                       last response that happened is reported (`all_entered_after_ms`).
 *   million <dialect>   1,000,000 users entered by a filter: seconds from the 200 to status `done`,
 *                       read from the status endpoint, and the server process's peak RSS.
 *
 * The server runs in a child process of its own (this file, mode `server`), so autocannon and the
 * server do not share an event loop and the server's peak RSS is its own. Without arguments every
 * mode runs on both backends.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import { ServiceMetrics } from '../../src/service/metrics.js';
import type { Dialect } from '../../src/store/backend.js';
import { Store } from '../../src/store/store.js';
import { waitUntil } from '../../test/support/wait-until.js';
import { createDatabase, point, seedUsers, spawnSuiteChild } from '../fixtures.js';
import { report } from '../report.js';

const APP_CODE = 'BENCH-00003';
const TOKEN = 'bench-start-token';
const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const JOURNEYS = 10_000;
const WARM_UP_VALID = 1_000;
const WARM_UP_REPEATS = 9;
const INVALID_EVERY = 10;
const CONNECTIONS = 10;
/** Rounds of the load comparison: the machine's speed drifts, so one pair of runs says little. */
const LOAD_ROUNDS = 3;
const MILLION = 1_000_000;
const MILLION_TIMEOUT_MS = 120_000;
/** How long after a load run every accepted request may take to be entered. */
const ENTRY_TIMEOUT_MS = 120_000;

const ENTRY_POINTS = [
  point('start', 'START_BY_API', { start_by_api: { attributes: [{ name: 'promo_code', default: 'NONE' }] } }, { default: 'exit' }),
  point('exit', 'EXIT', {}),
];

// ---------------------------------------------------------------------------------------------
// The server child: `server journeyd <url>` (the real routes and entry worker) or `server bare`.

async function runServer(kind: string, databaseUrl: string | undefined): Promise<void> {
  const logger = createLogger('warn');
  let close: () => Promise<void>;
  let url: string;
  if (kind === 'bare') {
    const app = Fastify();
    app.post('/api/journey/:id/start/external', async () => ({ request_uuid: randomUUID() }));
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    close = () => app.close();
  } else {
    const store = Store.open(databaseUrl ?? '');
    // As `journeyd serve` wires them: requests counted and timed, the worker's lease expiries counted.
    const metrics = new ServiceMetrics({ outboxBacklog: () => store.outbox.dueBacklog() });
    const app = buildServer({ store, logger, metrics });
    const worker = new EntryWorker(store, { logger, metrics });
    await worker.start();
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    close = async () => {
      await app.close();
      await worker.stop();
      await store.close();
    };
  }
  // Before the `listening` line: the parent may signal as soon as it reads it, and SIGUSR2 unhandled kills.
  process.on('SIGUSR2', () => {
    const { user, system } = process.cpuUsage();
    console.log(`cpu ${user + system}`);
  });
  console.log(`listening ${url}`);
  process.on('SIGTERM', () => void close().then(() => process.exit(0)));
}

interface ServerChild {
  readonly url: string;
  /** CPU time the child has used so far (user + system), in µs. */
  cpuMicros(): Promise<number>;
  /** The child's peak resident set so far, in MB (VmHWM). */
  peakRssMb(): number;
  stop(): Promise<void>;
}

async function startServer(kind: 'journeyd' | 'bare', databaseUrl = ''): Promise<ServerChild> {
  const { child, nextLine } = spawnSuiteChild(SELF, ['server', kind, databaseUrl]);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${code}) before listening`))),
  );
  const url = await Promise.race([nextLine('listening '), exited]);
  return {
    url,
    async cpuMicros() {
      const reading = nextLine('cpu ');
      child.kill('SIGUSR2');
      return Number(await reading);
    },
    peakRssMb: () => peakRssOf(child),
    stop: () => stopChild(child),
  };
}

function peakRssOf(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------
// Seeding, in this process, before the server starts.

interface Seeded {
  readonly store: Store;
  readonly applicationId: number;
  readonly journeyUuids: string[];
}

async function seed(databaseUrl: string, users: number, journeys: number): Promise<Seeded> {
  const store = Store.open(databaseUrl);
  await store.migrate();
  await bootstrapIfEmpty(store, APP_CODE, TOKEN);
  const application = await store.applications.findByCode(APP_CODE);
  if (!application) throw new Error('no bench application');
  await seedUsers(store, application.id, users);
  const now = Date.now();
  const journeyUuids = Array.from({ length: journeys }, () => randomUUID());
  const rows = journeyUuids.map((uuid, index) => ({
    uuid,
    application_id: application.id,
    title: `start bench ${index}`,
    status: 'STATUS_RUNNING' as const,
    params: JSON.stringify({ application_code: APP_CODE }),
    points: JSON.stringify(ENTRY_POINTS),
    created_at: now,
    updated_at: now,
  }));
  for (let i = 0; i < rows.length; i += 1_000) {
    await store.backend.db
      .insertInto('journeys')
      .values(rows.slice(i, i + 1_000))
      .execute();
  }
  return { store, applicationId: application.id, journeyUuids };
}

// ---------------------------------------------------------------------------------------------
// load

interface PlannedRequest {
  readonly path: string;
  readonly body: string;
  /** The status journeyd must answer with. */
  readonly expect: number;
}

/** Invalid requests, one of each kind in turn; each fails a different check of docs/start-by-api.md. */
const INVALID: readonly ((journeyUuid: string) => PlannedRequest)[] = [
  (j) => ({ path: j, body: '{"payload": {}}', expect: 400 }),
  (j) => ({ path: j, body: '{"payload": {"users": ["user-1"], "hwids": ["hw-1"]}}', expect: 400 }),
  (j) => ({ path: j, body: '{"payload": {"users": [1, 2]}}', expect: 400 }),
  (j) => ({ path: j, body: '{"payload": {"users": ["user-1"], "attribute_values": {"nope": "x"}}}', expect: 400 }),
  () => ({ path: randomUUID(), body: '{"payload": {"users": ["user-1"]}}', expect: 404 }),
];

/** `valid` accepted requests, one per journey from `firstJourney` on, with an invalid one every 10th. */
function plan(journeyUuids: readonly string[], firstJourney: number, valid: number): PlannedRequest[] {
  const planned: PlannedRequest[] = [];
  for (let i = 0; i < valid; i++) {
    const journey = journeyUuids[firstJourney + i] as string;
    if (i % (INVALID_EVERY - 1) === 0) {
      const invalid = INVALID[(i / (INVALID_EVERY - 1)) % INVALID.length] as (j: string) => PlannedRequest;
      planned.push(invalid(journey));
    }
    const user = `user-${firstJourney + i + 1}`;
    planned.push({
      path: journey,
      body: JSON.stringify({ payload: { users: [user], attribute_values: { promo_code: 'LOAD' } } }),
      expect: 200,
    });
  }
  return planned;
}

interface LoadResult {
  readonly requestsPerSecond: number;
  /** The server process's CPU time per request, the work they left behind included. */
  readonly cpuMicrosPerRequest: number;
  /** How long after the last response that work was done (journeyd: the last accepted request entered). */
  readonly settledAfterMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly byStatus: Map<number, number>;
}

/**
 * `settled` resolves once the server has finished the work the requests left
 * behind (journeyd: every accepted request entered), so that the CPU time
 * read after it is the whole cost of the requests; it answers how long after
 * the last response that was.
 */
async function hammer(
  server: ServerChild,
  planned: readonly PlannedRequest[],
  settled: () => Promise<number> = async () => 0,
): Promise<LoadResult> {
  const url = server.url;
  let next = 0;
  const cpuBefore = await server.cpuMicros();
  const byStatus = new Map<number, number>();
  const startedAt = performance.now();
  let lastResponseAt = startedAt;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        amount: planned.length,
        headers: { authorization: `Api ${TOKEN}`, 'content-type': 'application/json' },
        requests: [
          {
            method: 'POST',
            setupRequest: (request) => {
              const { path, body } = planned[next++ % planned.length] as PlannedRequest;
              return { ...request, path: `/api/journey/${path}/start/external`, body };
            },
          },
        ],
      },
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- autocannon hands its Error typed as any.
      (error, finished) => (error ? reject(error) : resolve(finished)),
    );
    instance.on('response', (_client, statusCode) => {
      byStatus.set(statusCode, (byStatus.get(statusCode) ?? 0) + 1);
      lastResponseAt = performance.now();
    });
  });
  const settledAfterMs = await settled();
  const cpuMicros = (await server.cpuMicros()) - cpuBefore;
  return {
    settledAfterMs,
    cpuMicrosPerRequest: cpuMicros / result.requests.total,
    // autocannon ends a run with `amount` on its next one-second tick, so its duration is too coarse.
    requestsPerSecond: result.requests.total / ((lastResponseAt - startedAt) / 1000),
    p50: result.latency.p50,
    p99: result.latency.p99,
    byStatus,
  };
}

/** Polls the queue until no accepted request is waiting or being entered; answers how long that took. */
async function everyRequestEntered(databaseUrl: string): Promise<number> {
  const startedAt = performance.now();
  const store = Store.open(databaseUrl);
  try {
    const nonePending = async () => {
      const { pending } = await store.backend.db
        .selectFrom('entry_requests')
        .select((eb) => eb.fn.countAll<number>().as('pending'))
        .where('status', 'in', ['queued', 'processing'])
        .executeTakeFirstOrThrow();
      return Number(pending) === 0;
    };
    await waitUntil('every accepted request entered after the load', nonePending, ENTRY_TIMEOUT_MS);
    return performance.now() - startedAt;
  } finally {
    await store.close();
  }
}

function expectedStatuses(planned: readonly PlannedRequest[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const { expect } of planned) counts.set(expect, (counts.get(expect) ?? 0) + 1);
  return counts;
}

function describeStatuses(counts: Map<number, number>): string {
  return [...counts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status}:${n}`)
    .join(',');
}

interface LoadRound {
  readonly journeyd: LoadResult;
  readonly bare: LoadResult;
  /** The statuses the measured requests should have had, as `describeStatuses` writes them. */
  readonly wanted: string;
}

/**
 * One round on a fresh database (a round uses up every journey's one request
 * a minute); the two servers take turns going first from round to round.
 */
async function loadRound(dialect: Dialect, round: number): Promise<LoadRound> {
  const database = await createDatabase(dialect);
  try {
    const seeded = await seed(database.url, JOURNEYS, JOURNEYS);
    await seeded.store.close();
    // The warm-up's journeys are then asked again and again: refused by the rate limit (check 10),
    // those requests take the whole path, commit included, without using up the measured journeys.
    const firstAsks = plan(seeded.journeyUuids, 0, WARM_UP_VALID);
    const warmUp = [...firstAsks, ...Array.from({ length: WARM_UP_REPEATS }, () => firstAsks).flat()];
    const measured = plan(seeded.journeyUuids, WARM_UP_VALID, JOURNEYS - WARM_UP_VALID);
    const results: Partial<Record<'journeyd' | 'bare', LoadResult>> = {};
    for (const kind of round % 2 === 1 ? (['journeyd', 'bare'] as const) : (['bare', 'journeyd'] as const)) {
      const server = await startServer(kind, database.url);
      const settled = kind === 'journeyd' ? () => everyRequestEntered(database.url) : undefined;
      await hammer(server, warmUp, settled);
      results[kind] = await hammer(server, measured, settled);
      await server.stop();
    }
    return {
      journeyd: results.journeyd as LoadResult,
      bare: results.bare as LoadResult,
      wanted: describeStatuses(expectedStatuses(measured)),
    };
  } finally {
    await database.drop();
  }
}

async function load(dialect: Dialect): Promise<void> {
  const ratios: number[] = [];
  let unplanned: string | undefined;
  for (let round = 1; round <= LOAD_ROUNDS; round++) {
    const { journeyd, bare, wanted } = await loadRound(dialect, round);
    for (const [kind, result] of Object.entries({ journeyd, bare })) {
      report(`start-external load ${dialect} ${kind} #${round}`, {
        'req/s': result.requestsPerSecond,
        cpu_us_per_req: result.cpuMicrosPerRequest,
        p50_ms: result.p50,
        p99_ms: result.p99,
        ...(kind === 'journeyd' ? { all_entered_after_ms: result.settledAfterMs } : {}),
        statuses: describeStatuses(result.byStatus),
      });
    }
    ratios.push(journeyd.requestsPerSecond / bare.requestsPerSecond);
    const got = describeStatuses(journeyd.byStatus);
    if (got !== wanted) unplanned ??= `no (round ${round}: ${got}, wanted ${wanted})`;
  }
  ratios.sort((a, b) => a - b);
  report(`start-external load ${dialect} ratio`, {
    median: ratios[Math.floor(ratios.length / 2)] as number,
    min: ratios[0] as number,
    max: ratios[ratios.length - 1] as number,
    target: '>=0.3 (sqlite)',
    statuses_as_planned: unplanned ?? 'yes',
  });
  if (unplanned) process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------
// million

interface RequestStatus {
  status: string;
  selected: number;
  entered: number;
  skipped: { unknown: number; already_in_journey: number };
}

async function million(dialect: Dialect): Promise<void> {
  const database = await createDatabase(dialect);
  const seeded = await seed(database.url, MILLION, 1);
  await seeded.store.close();
  const journey = seeded.journeyUuids[0] as string;
  const server = await startServer('journeyd', database.url);
  const headers = { authorization: `Api ${TOKEN}`, 'content-type': 'application/json' };

  const accepted = await fetch(`${server.url}/api/journey/${journey}/start/external`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ payload: { filter: `A("${APP_CODE}")`, attribute_values: { promo_code: 'MILLION' } } }),
  });
  const startedAt = performance.now();
  if (accepted.status !== 200) throw new Error(`start refused: ${accepted.status} ${await accepted.text()}`);
  const { request_uuid } = (await accepted.json()) as { request_uuid: string };

  let status: RequestStatus;
  for (;;) {
    const res = await fetch(`${server.url}/api/journey/${journey}/start/external/${request_uuid}`, { headers });
    status = (await res.json()) as RequestStatus;
    if (status.status === 'done' || status.status === 'failed') break;
    if (performance.now() - startedAt > MILLION_TIMEOUT_MS) break;
    await sleep(50);
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const peakRss = server.peakRssMb();
  await server.stop();
  await database.drop();

  report(`start-external million ${dialect}`, {
    status: status.status,
    entered: status.entered,
    seconds,
    'users/s': status.entered / seconds,
    peak_rss_mb: peakRss,
    target: dialect === 'sqlite' ? '<=10 s, <400 MB' : '<=20 s, <400 MB',
  });
  if (status.status !== 'done' || status.entered !== MILLION) process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------

function runAll(): void {
  let failed = 0;
  for (const args of [
    ['load', 'sqlite'],
    ['load', 'postgres'],
    ['million', 'sqlite'],
    ['million', 'postgres'],
  ]) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', SELF, ...args], { stdio: 'inherit', cwd: ROOT });
    if (child.status !== 0) failed++;
  }
  process.exit(failed > 0 ? 1 : 0);
}

const [mode, argument, extra] = process.argv.slice(2);
const dialect: Dialect = argument === 'postgres' ? 'postgres' : 'sqlite';
switch (mode) {
  case undefined:
    runAll();
    break;
  case 'server':
    await runServer(argument ?? 'journeyd', extra);
    break;
  case 'load':
    await load(dialect);
    break;
  case 'million':
    await million(dialect);
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
