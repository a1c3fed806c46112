import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { faultPointLine, type FaultArming } from '../../src/fault-points.js';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import type { Dialect } from '../../src/store/backend.js';
import { Store } from '../../src/store/store.js';
import { TEST_API_TOKEN, TEST_APP_CODE } from '../support/app.js';
import { createTestDatabase, POSTGRES_URL, type TestDatabase } from '../support/backends.js';
import { startJourneyd, type JourneydProcess } from '../support/journeyd-process.js';
import { waitUntil } from '../support/wait-until.js';

/**
 * Shared pieces of the fault tests (docs/deployment.md): real `journeyd serve`
 * processes on a fresh database, a webhook sink that records every delivery
 * with its idempotency key, a supervisor that kills and restarts processes,
 * and the "nothing lost, nothing doubled" checks against the sink and the
 * database.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

export { TEST_APP_CODE };

/** A fresh database (SQLite file or Postgres schema), migrated, with the test application and token. */
export async function preparedDatabase(dialect: Dialect): Promise<TestDatabase> {
  const database = await createTestDatabase(dialect);
  const store = Store.open(database.url);
  try {
    await store.migrate();
    await bootstrapIfEmpty(store, TEST_APP_CODE, TEST_API_TOKEN);
  } finally {
    await store.close();
  }
  return database;
}

/** Runs a `journeyd` CLI command against the database; fails unless it exits 0. */
export async function journeydCli(databaseUrl: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, JOURNEYD_DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** `count` users `<prefix>-<n>` with one Android device each, imported with `journeyd devices import`. */
export async function importUsers(databaseUrl: string, prefix: string, count: number): Promise<string[]> {
  const users = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const dir = mkdtempSync(join(tmpdir(), 'journeyd-fault-'));
  try {
    const file = join(dir, 'devices.csv');
    writeFileSync(file, `hwid,userId,device_type\n${users.map((u) => `${u}-hw,${u},3`).join('\n')}\n`);
    await journeydCli(databaseUrl, ['devices', 'import', file, '--app', TEST_APP_CODE]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return users;
}

// ---------------------------------------------------------------------------
// The webhook sink

export interface Delivery {
  /** The `Idempotency-Key` header: one per message. */
  readonly key: string;
  /** The user, from the path `/<tag>/<user>`. */
  readonly user: string;
  readonly tag: string;
  readonly at: number;
  /** The status the sink answered (undefined while hanging; 0 if it never answered). */
  status: number | undefined;
}

/** How the sink answers one delivery: a status, or `hang` to never answer (the client times out). */
export type SinkAnswer = number | 'hang';

/**
 * A node:http server on loopback that records every webhook delivery with its
 * idempotency key and the user it is for. `answer(delivery, attemptOfKey)`
 * chooses the reply (attempt counts from 1 per key; default 200).
 */
export class WebhookSink {
  readonly deliveries: Delivery[] = [];
  private readonly attempts = new Map<string, number>();
  private readonly hanging = new Set<ServerResponse>();
  private readonly server = createServer((req, res) => {
    req.resume();
    req.on('end', () => this.receive(req.url ?? '', req.headers, res));
  });
  url = '';

  constructor(private readonly answer: (delivery: Delivery, attempt: number) => SinkAnswer = () => 200) {
    this.server.keepAliveTimeout = 60_000;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The webhook URL template for a journey: one path segment for the tag, one for the user. */
  hookUrl(tag: string): string {
    return `${this.url}/${tag}/{{ user_id }}`;
  }

  private receive(path: string, headers: IncomingHttpHeaders, res: ServerResponse): void {
    const [, tag = '', user = ''] = path.split('/');
    const key = String(headers['idempotency-key'] ?? '');
    const delivery: Delivery = { key, user: decodeURIComponent(user), tag, at: Date.now(), status: undefined };
    this.deliveries.push(delivery);
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const answer = this.answer(delivery, attempt);
    if (answer === 'hang') {
      this.hanging.add(res);
      res.on('close', () => {
        this.hanging.delete(res);
        delivery.status ??= 0;
      });
      return;
    }
    delivery.status = answer;
    res.writeHead(answer, { 'content-type': 'text/plain' });
    res.end(answer < 300 ? 'ok' : 'no');
  }

  /** Deliveries the sink acknowledged with a 2xx, optionally of one tag. */
  acknowledged(tag?: string): Delivery[] {
    return this.deliveries.filter(
      (d) => d.status !== undefined && d.status >= 200 && d.status < 300 && (tag === undefined || d.tag === tag),
    );
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------
// Processes

export type Role = 'all' | 'api' | 'worker';

interface Managed {
  readonly name: string;
  readonly role: Role;
  current: JourneydProcess | undefined;
  /** The fault point the current process was started armed with (JOURNEYD_FAULT). */
  fault: FaultArming | undefined;
  starts: number;
}

/** How a process killed by its armed fault point exits: by SIGKILL, having printed the point's line. */
function diedAt(fault: FaultArming, exit: { signal: NodeJS.Signals | null }, output: string): boolean {
  return exit.signal === 'SIGKILL' && output.includes(faultPointLine(fault.point));
}

/** The database URL a process uses: on Postgres it names the process (`application_name`) for pg_stat_activity. */
export function processUrl(databaseUrl: string, name: string): string {
  if (!databaseUrl.startsWith('postgres')) return databaseUrl;
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', name);
  return url.toString();
}

/**
 * Spawns named `journeyd serve --role …` processes, optionally armed to kill
 * themselves at a fault point, and kills and restarts them. `stopAll` (in
 * `after`) kills whatever still runs.
 */
export class Supervisor {
  private readonly processes = new Map<string, Managed>();
  /** Every exit of a process that this supervisor did not cause (it must stay empty). */
  readonly unexpectedExits: string[] = [];
  private readonly expected = new Set<JourneydProcess>();

  constructor(
    private readonly databaseUrl: string,
    private readonly env: Record<string, string> = {},
  ) {}

  /** Starts the process; with `fault`, armed to SIGKILL itself at that fault point (see `diedAtFault`). */
  async start(name: string, role: Role, fault?: FaultArming): Promise<JourneydProcess> {
    let managed = this.processes.get(name);
    if (!managed) {
      managed = { name, role, current: undefined, fault: undefined, starts: 0 };
      this.processes.set(name, managed);
    }
    assert.equal(managed.current, undefined, `${name} is already running`);
    const faultEnv: Record<string, string> = fault ? { JOURNEYD_FAULT: `${fault.point}:${fault.arrival}` } : {};
    const started = await startJourneyd(processUrl(this.databaseUrl, name), { LOG_LEVEL: 'warn', ...this.env, ...faultEnv }, role);
    managed.current = started;
    managed.fault = fault;
    managed.starts++;
    void started.exited.then((exit) => {
      if (this.expected.has(started) || (fault && diedAt(fault, exit, started.output()))) return;
      this.unexpectedExits.push(`${name} exited (${exit.code ?? exit.signal}):\n${started.output().slice(-4000)}`);
    });
    return started;
  }

  /**
   * Waits for the armed process to die at its fault point and fails unless it
   * did: killed by SIGKILL right after printing the point's line (so a
   * disarmed hook cannot pass for one). `timeoutMs` only turns a point never
   * reached into a failure that names it instead of the test's timeout.
   */
  async diedAtFault(name: string, timeoutMs: number): Promise<void> {
    const managed = this.processes.get(name);
    const current = managed?.current;
    assert.ok(managed?.fault && current, `${name} is not running armed with a fault point`);
    const { fault } = managed;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${name} did not reach ${fault.point} (arrival ${fault.arrival}) in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const exit = await Promise.race([current.exited, timedOut]).finally(() => clearTimeout(timer));
    assert.ok(
      diedAt(fault, exit, current.output()),
      `${name} did not die at ${fault.point} (${exit.code ?? exit.signal}):\n${current.output().slice(-4000)}`,
    );
    managed.current = undefined;
    managed.fault = undefined;
  }

  get(name: string): JourneydProcess {
    const current = this.processes.get(name)?.current;
    assert.ok(current, `${name} is not running`);
    return current;
  }

  running(name: string): boolean {
    return this.processes.get(name)?.current !== undefined;
  }

  names(): string[] {
    return [...this.processes.keys()];
  }

  /** Sends `signal` and waits for the exit. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const managed = this.processes.get(name);
    const current = managed?.current;
    assert.ok(managed && current, `${name} is not running`);
    this.expected.add(current);
    current.child.kill(signal);
    const exit = await current.exited;
    managed.current = undefined;
    return exit;
  }

  async restart(name: string): Promise<JourneydProcess> {
    const managed = this.processes.get(name);
    assert.ok(managed, `no process ${name}`);
    if (managed.current) await this.kill(name);
    return this.start(name, managed.role);
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.processes.values()].map(async (managed) => {
        if (managed.current) await this.kill(managed.name).catch(() => {});
      }),
    );
  }

  /** Fails the test if a process died without being killed by the supervisor. */
  assertNoUnexpectedExit(): void {
    assert.deepEqual(this.unexpectedExits, [], 'a journeyd process exited by itself');
  }
}

// ---------------------------------------------------------------------------
// HTTP calls to a running API process

export interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function call(baseUrl: string, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<Reply> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Api ${TEST_API_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

function ok(reply: Reply, what: string): Reply {
  assert.equal(reply.status, 200, `${what}: ${JSON.stringify(reply.body)}`);
  return reply;
}

/** start_by_api → webhook (POST to the sink, `tag` in the path) → exit, created and started. Returns its uuid. */
export async function startWebhookJourney(apiUrl: string, sink: WebhookSink, tag: string): Promise<string> {
  const points = [
    {
      uuid: 'api',
      title: 'api',
      point_type: 'POINT_TYPE_START_BY_API',
      point_data: { start_by_api: {} },
      outputs: [{ key: 'default', next_point_uuid: 'hook' }],
    },
    {
      uuid: 'hook',
      title: 'hook',
      point_type: 'POINT_TYPE_WEBHOOK',
      point_data: { webhook: { url: sink.hookUrl(tag), method: 'POST', body: '{"user":"{{ user_id }}"}' } },
      outputs: [{ key: 'default', next_point_uuid: 'exit' }],
    },
    { uuid: 'exit', title: 'exit', point_type: 'POINT_TYPE_EXIT', point_data: { exit: {} }, outputs: [] },
  ];
  const created = ok(
    await call(apiUrl, 'POST', '/api/v3/journeygateway', { title: `fault ${tag}`, params: { application_code: TEST_APP_CODE }, points }),
    'create journey',
  );
  const uuid = (created.body.info as { uuid: string }).uuid;
  ok(await call(apiUrl, 'POST', '/api/v3/journeygateway/start', { uuid }), 'start journey');
  return uuid;
}

export async function startExternal(apiUrl: string, journey: string, users: readonly string[], timeoutMs?: number): Promise<Reply> {
  return call(apiUrl, 'POST', `/api/journey/${journey}/start/external`, { payload: { users } }, timeoutMs);
}

export async function requestStatus(apiUrl: string, journey: string, requestUuid: string): Promise<Record<string, unknown>> {
  return ok(await call(apiUrl, 'GET', `/api/journey/${journey}/start/external/${requestUuid}`), 'request status').body;
}

export interface Totals {
  entered: number;
  in_journey: number;
  exited: number;
}

export async function statistics(apiUrl: string, journey: string) {
  const { payload } = ok(await call(apiUrl, 'GET', `/api/journey/${journey}/statistics/external`), 'statistics').body as {
    payload: {
      totals: Totals;
      points: { uuid: string; entered: number; in_point: number; passed: number; pointStat: { sent: number; failed: number } }[];
    };
  };
  return payload;
}

// ---------------------------------------------------------------------------
// Nothing lost, nothing doubled

/**
 * What a fault test's describe runs on, set up before its tests and torn down
 * after them: a fresh database with the test application, a webhook sink, a
 * supervisor of journeyd processes, and a store of the test's own to read
 * what the processes wrote (opened when first used, so a test can open it
 * after a restart or once a SQLite process has let go of the file).
 */
export class FaultRig {
  database!: TestDatabase;
  sink!: WebhookSink;
  supervisor!: Supervisor;
  private opened: Store | undefined;

  get store(): Store {
    this.opened ??= Store.open(this.database.url);
    return this.opened;
  }

  async tearDown(): Promise<void> {
    await this.supervisor?.stopAll();
    await this.opened?.close();
    await this.sink?.close();
    await this.database?.drop();
  }
}

export interface FaultRigOptions {
  /** How the sink answers (default: 200 to everything). */
  readonly answer?: (delivery: Delivery, attempt: number) => SinkAnswer;
  /** Runs first in the teardown, before the processes are stopped and the database dropped. */
  readonly beforeTearDown?: () => Promise<void>;
}

/** Registers the describe's before/after hooks for a FaultRig. */
export function faultRig(dialect: Dialect, { answer, beforeTearDown }: FaultRigOptions = {}): FaultRig {
  const rig = new FaultRig();
  before(async () => {
    rig.database = await preparedDatabase(dialect);
    rig.sink = await new WebhookSink(answer).start();
    rig.supervisor = new Supervisor(rig.database.url);
  });
  after(async () => {
    await beforeTearDown?.();
    await rig.tearDown();
  });
  return rig;
}

async function journeyId(store: Store, uuid: string): Promise<number> {
  const journey = await store.journeys.findByUuid(uuid);
  assert.ok(journey, `journey ${uuid} not found`);
  return journey.id;
}

/** Waits (bounded) until every run of the journey has exited and every webhook message is final. */
export async function waitForJourneyDone(store: Store, uuid: string, runs: number, timeoutMs: number): Promise<void> {
  const id = await journeyId(store, uuid);
  let last = '';
  try {
    await waitUntil(
      `journey ${uuid}: ${runs} runs exited and their messages final`,
      async () => {
        const row = await sql<{ exited: number; open: number }>`
          SELECT (SELECT count(*) FROM runs WHERE journey_id = ${id} AND state = 'exited') AS exited,
                 (SELECT count(*) FROM outbox WHERE journey_id = ${id} AND status NOT IN ('sent', 'failed', 'cancelled')) AS open`
          .execute(store.backend.db)
          .then((r) => r.rows[0]);
        last = JSON.stringify(row);
        if (!row) return false;
        // Each look counts the journey's runs and messages (tens of thousands of rows): every 200 ms, not
        // waitUntil's 10 ms, so the looking does not compete with the workers it waits for.
        await new Promise((resolve) => setTimeout(resolve, 200));
        return Number(row.exited) >= runs && Number(row.open) === 0;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last: ${last}`);
  }
}

export interface ExactlyOnceReport {
  readonly messages: number;
  /** Deliveries of a key the sink had already acknowledged: the documented at-least-once gap (same key). */
  readonly repeatedKeys: number;
}

/**
 * The journey entered exactly `users` once each, every run exited, each user
 * has one webhook message (one outbox row, one delivery-log entry, status
 * sent) and the sink acknowledged exactly that message's key for that user and
 * no other key. A repeat of an acknowledged key is counted, not hidden: the
 * caller bounds it (it is zero unless a dispatcher died between a provider's
 * answer and recording it).
 */
export async function assertExactlyOnce(
  store: Store,
  sink: WebhookSink,
  uuid: string,
  tag: string,
  users: readonly string[],
): Promise<ExactlyOnceReport> {
  const id = await journeyId(store, uuid);
  const db = store.backend.db;
  const runs = await db.selectFrom('runs').select(['user_id', 'state', 'point_uuid']).where('journey_id', '=', id).execute();
  assert.equal(runs.length, users.length, 'one run per user: none lost, none doubled');
  const runUsers = new Set(runs.map((r) => r.user_id));
  assert.equal(runUsers.size, users.length, 'no user has two runs');
  for (const user of users) assert.ok(runUsers.has(user), `user ${user} has no run`);
  const notExited = runs.filter((r) => r.state !== 'exited' || r.point_uuid !== 'exit');
  assert.deepEqual(notExited.slice(0, 5), [], `${notExited.length} runs did not exit at the exit point`);

  const outbox = await db
    .selectFrom('outbox')
    .select(['user_id', 'idempotency_key', 'status', 'attempts'])
    .where('journey_id', '=', id)
    .execute();
  assert.equal(outbox.length, users.length, 'one webhook message per user in the outbox');
  const keyOf = new Map(outbox.map((m) => [m.user_id, m.idempotency_key]));
  assert.equal(keyOf.size, users.length, 'no user has two messages');
  const unsent = outbox.filter((m) => m.status !== 'sent');
  assert.deepEqual(unsent.slice(0, 5), [], `${unsent.length} messages not sent`);
  const logged = await db
    .selectFrom('message_deliveries')
    .select([(eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.count<number>('outbox_id').distinct().as('distinct')])
    .where('journey_id', '=', id)
    .executeTakeFirstOrThrow();
  assert.deepEqual([Number(logged.n), Number(logged.distinct)], [users.length, users.length], 'one delivery-log entry per message');

  // The sink: for each user exactly one key acknowledged, and it is that user's message.
  const acked = new Map<string, Set<string>>();
  let repeatedKeys = 0;
  const seen = new Set<string>();
  for (const d of sink.acknowledged(tag)) {
    if (seen.has(d.key)) repeatedKeys++;
    seen.add(d.key);
    let keys = acked.get(d.user);
    if (!keys) acked.set(d.user, (keys = new Set()));
    keys.add(d.key);
  }
  const lost = users.filter((u) => !acked.has(u));
  assert.deepEqual(lost.slice(0, 5), [], `${lost.length} users got no acknowledged webhook`);
  assert.equal(acked.size, users.length, 'webhooks only for the entered users');
  const doubled = [...acked].filter(([, keys]) => keys.size !== 1);
  assert.deepEqual(doubled.slice(0, 5), [], `${doubled.length} users got two different messages`);
  const wrongKey = [...acked].filter(([user, keys]) => !keys.has(keyOf.get(user) as string));
  assert.deepEqual(wrongKey.slice(0, 5), [], 'the sink saw the keys the outbox holds');

  const stats = await statsFromStore(store, id);
  assert.deepEqual(stats, { entered: users.length, hookEntered: users.length, hookPassed: users.length, sent: users.length, failed: 0 });
  return { messages: outbox.length, repeatedKeys };
}

async function statsFromStore(store: Store, id: number) {
  const rows = await store.backend.db.selectFrom('journey_point_counters').selectAll().where('journey_id', '=', id).execute();
  const of = (point: string) => rows.find((r) => r.point_uuid === point) as Record<string, unknown> | undefined;
  const num = (row: Record<string, unknown> | undefined, column: string) => Number(row?.[column] ?? 0);
  return {
    entered: num(of('api'), 'entered'),
    hookEntered: num(of('hook'), 'entered'),
    hookPassed: num(of('hook'), 'passed'),
    sent: num(of('hook'), 'sent'),
    failed: num(of('hook'), 'failed'),
  };
}

/** The statistics endpoint agrees: everyone entered and exited, nobody in the journey, every webhook sent. */
export async function assertStatistics(apiUrl: string, journey: string, users: number): Promise<void> {
  const stats = await statistics(apiUrl, journey);
  assert.deepEqual(stats.totals, { entered: users, in_journey: 0, exited: users });
  const hook = stats.points.find((p) => p.uuid === 'hook');
  assert.deepEqual(hook && { entered: hook.entered, in_point: hook.in_point, passed: hook.passed, ...hook.pointStat }, {
    entered: users,
    in_point: 0,
    passed: users,
    sent: users,
    failed: 0,
  });
}

// ---------------------------------------------------------------------------
// Postgres cluster control (the machine's one cluster, shared by all tests)

const CLUSTER_VERSION = process.env.JOURNEYD_TEST_PG_VERSION;

async function clusterVersion(): Promise<string> {
  if (CLUSTER_VERSION) return CLUSTER_VERSION;
  const { stdout } = await run('ls', ['/etc/postgresql']);
  const version = stdout.trim().split('\n')[0];
  assert.ok(version, 'no Postgres cluster under /etc/postgresql');
  return version;
}

export async function pgCtlCluster(action: 'restart' | 'start' | 'stop'): Promise<void> {
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', await clusterVersion(), 'main', action]);
}

/** True when the test Postgres answers a query. */
export async function postgresAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Starts the cluster if it does not answer, and waits until it does (test cleanup: Postgres is shared). */
export async function ensurePostgresUp(timeoutMs = 60_000): Promise<void> {
  if (await postgresAnswers()) return;
  await pgCtlCluster('start').catch(() => {});
  await waitUntil('Postgres to answer again', () => postgresAnswers(), timeoutMs);
}

/**
 * Suites that need Postgres: skipped with this reason outside CI when it does not answer
 * (with CI=true, importing test/support/backends.ts already failed the run).
 */
export const postgresSkip: string | false = (await postgresAnswers())
  ? false
  : `Postgres not reachable at ${POSTGRES_URL}; set JOURNEYD_TEST_POSTGRES_URL`;
