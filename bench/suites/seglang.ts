/**
 * Seglang audience selection on 1,000,000 devices with 5 tags each, on SQLite
 * and Postgres: the compiled expression (parse + tag lookup + query) against a
 * hand-written query for the same selection, both counted in the database.
 * Targets: each compiled selection under 1 s and within 2x of the hand-written one.
 *
 * SQLite is measured twice: first as journeyd leaves a database (no ANALYZE
 * statistics; seglang only, because the hand-written union query then takes
 * minutes), then after a bounded ANALYZE, as `PRAGMA optimize` would run it.
 * `node --import tsx bench/suites/seglang.ts sqlite` runs one backend.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type RawBuilder } from 'kysely';
import pg from 'pg';
import { parseSeglang } from '../../src/domain/seglang/index.js';
import type { Dialect } from '../../src/store/backend.js';
import { Store } from '../../src/store/store.js';
import { report } from '../report.js';

const DEVICES = 1_000_000;
const APP_ID = 1;
const CODE = 'BENCH-00001';
const NOW = Date.now();
const NOW_SECONDS = Math.floor(NOW / 1000);
const DAY = 86_400;
const TIMED_RUNS = 3;
const POSTGRES_URL = process.env.JOURNEYD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Tag ids are fixed by the generator, so the hand-written queries can name them as a person would. */
const TAG = { City: 1, Age: 2, 'Last Open': 3, Premium: 4, 'App Version': 5 } as const;

/**
 * Every device gets all 5 tags, spread deterministically: City is London for
 * 20%, Age 13–80, Last Open within the last 60 days, Premium for 25%.
 */
const TAG_DEFINITIONS_SQL = `INSERT INTO tag_definitions (id, application_id, name, type, created_at) VALUES
  (1, 1, 'City', 2, 0), (2, 1, 'Age', 1, 0), (3, 1, 'Last Open', 4, 0), (4, 1, 'Premium', 5, 0), (5, 1, 'App Version', 7, 0)`;
const CITY = `CASE (n * 7919) % 10 WHEN 0 THEN 'London' WHEN 1 THEN 'London' WHEN 2 THEN 'Paris' WHEN 3 THEN 'Berlin'
  WHEN 4 THEN 'Madrid' WHEN 5 THEN 'Rome' WHEN 6 THEN 'Oslo' WHEN 7 THEN 'Lisbon' WHEN 8 THEN 'Vienna' ELSE 'Prague' END`;
const AGE = '13 + (n * 104729) % 68';
const LAST_OPEN = `${NOW_SECONDS} - (n * 15485863) % (60 * ${DAY})`;
const PREMIUM = 'CASE WHEN (n * 31) % 4 = 0 THEN 1 ELSE 0 END';
const DEVICE_TAG_INDEXES = [
  'CREATE INDEX device_tags_by_device ON device_tags (device_id, tag_id)',
  'CREATE INDEX device_tags_by_int ON device_tags (tag_id, int_value, device_id) WHERE int_value IS NOT NULL',
  'CREATE INDEX device_tags_by_real ON device_tags (tag_id, real_value, device_id) WHERE real_value IS NOT NULL',
  'CREATE INDEX device_tags_by_text ON device_tags (tag_id, text_value, device_id) WHERE text_value IS NOT NULL',
];

/** Fills a migrated SQLite database in one transaction; indexes are rebuilt once at the end. */
function generateSqlite(store: Store): void {
  if (store.backend.dialect !== 'sqlite') throw new Error('expected SQLite');
  const raw = store.backend.raw;
  const series = `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${DEVICES})`;
  raw.exec('BEGIN');
  raw.exec(`INSERT INTO applications (id, code, name, created_at) VALUES (1, '${CODE}', 'bench', 0)`);
  raw.exec(TAG_DEFINITIONS_SQL);
  raw.exec(`${series} INSERT INTO devices (id, application_id, hwid, user_id, device_type, created_at, updated_at)
    SELECT n, 1, 'hwid-' || n, 'user-' || n, CASE n % 3 WHEN 0 THEN 1 WHEN 1 THEN 3 ELSE 11 END, 0, 0 FROM s`);
  raw.exec(
    'DROP INDEX device_tags_by_device; DROP INDEX device_tags_by_int; DROP INDEX device_tags_by_real; DROP INDEX device_tags_by_text',
  );
  raw.exec(`${series} INSERT INTO device_tags (device_id, tag_id, int_value, real_value, text_value)
    SELECT n, 1, NULL, NULL, ${CITY} FROM s
    UNION ALL SELECT n, 2, ${AGE}, NULL, NULL FROM s
    UNION ALL SELECT n, 3, ${LAST_OPEN}, NULL, NULL FROM s
    UNION ALL SELECT n, 4, ${PREMIUM}, NULL, NULL FROM s
    UNION ALL SELECT n, 5, NULL, NULL, printf('%010d.%010d.0000000000.0000000000', 1 + n % 3, n % 20) FROM s`);
  for (const statement of DEVICE_TAG_INDEXES) raw.exec(statement);
  raw.exec('COMMIT');
}

/** Fills a migrated Postgres schema with set-returning SQL; indexes are rebuilt once at the end. */
async function generatePostgres(store: Store): Promise<void> {
  if (store.backend.dialect !== 'postgres') throw new Error('expected Postgres');
  const client = await store.backend.pool.connect();
  try {
    await client.query("SET maintenance_work_mem = '256MB'");
    await client.query('BEGIN');
    await client.query(`INSERT INTO applications (id, code, name, created_at) VALUES (1, '${CODE}', 'bench', 0)`);
    await client.query(TAG_DEFINITIONS_SQL);
    await client.query('DROP INDEX device_tags_by_device, device_tags_by_int, device_tags_by_real, device_tags_by_text');
    await client.query(`INSERT INTO devices (id, application_id, hwid, user_id, device_type, created_at, updated_at)
      SELECT n, 1, 'hwid-' || n, 'user-' || n, CASE n % 3 WHEN 0 THEN 1 WHEN 1 THEN 3 ELSE 11 END, 0, 0
      FROM generate_series(1, ${DEVICES}::bigint) AS n`);
    await client.query(`INSERT INTO device_tags (device_id, tag_id, int_value, real_value, text_value)
      SELECT n, 1, NULL::bigint, NULL::float8, ${CITY} FROM generate_series(1, ${DEVICES}::bigint) AS n
      UNION ALL SELECT n, 2, ${AGE}, NULL, NULL FROM generate_series(1, ${DEVICES}::bigint) AS n
      UNION ALL SELECT n, 3, ${LAST_OPEN}, NULL, NULL FROM generate_series(1, ${DEVICES}::bigint) AS n
      UNION ALL SELECT n, 4, ${PREMIUM}, NULL, NULL FROM generate_series(1, ${DEVICES}::bigint) AS n
      UNION ALL SELECT n, 5, NULL, NULL, lpad((1 + n % 3)::text, 10, '0') || '.' || lpad((n % 20)::text, 10, '0') || '.0000000000.0000000000'
        FROM generate_series(1, ${DEVICES}::bigint) AS n`);
    for (const statement of DEVICE_TAG_INDEXES) await client.query(statement);
    await client.query('COMMIT');
    // What autovacuum would have done by the time a real audience of this size is queried.
    await client.query('ANALYZE devices');
    await client.query('ANALYZE device_tags');
  } finally {
    client.release();
  }
}

interface Selection {
  readonly name: string;
  readonly filter: string;
  /** The same selection as a person would write it by hand, counting devices. */
  readonly handWritten: RawBuilder<{ n: number }>;
}

const exists = (tagId: number, condition: RawBuilder<unknown>) =>
  sql`EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = d.id AND t.tag_id = ${tagId} AND ${condition})`;

const SELECTIONS: Selection[] = [
  {
    name: 'A(app) * T(City eq London)',
    filter: `A("${CODE}") * T("City", eq, "London")`,
    handWritten: sql`SELECT COUNT(*) AS n FROM devices d JOIN device_tags t ON t.device_id = d.id
      WHERE d.application_id = ${APP_ID} AND t.tag_id = ${TAG.City} AND t.text_value = ${'London'}`,
  },
  {
    name: '(London + Age 18..25) \\ Premium',
    filter: `A("${CODE}") * (T("City", eq, "London") + T("Age", between, [18, 25])) \\ T("Premium", eq, true)`,
    handWritten: sql`SELECT COUNT(*) AS n FROM devices d WHERE d.application_id = ${APP_ID}
      AND (${exists(TAG.City, sql`t.text_value = ${'London'}`)} OR ${exists(TAG.Age, sql`t.int_value BETWEEN ${18} AND ${25}`)})
      AND NOT ${exists(TAG.Premium, sql`t.int_value = ${1}`)}`,
  },
  {
    name: 'Last Open daysago lte 7',
    filter: `A("${CODE}").tags("Last Open").daysago(lte, 7)`,
    handWritten: sql`SELECT COUNT(*) AS n FROM devices d JOIN device_tags t ON t.device_id = d.id
      WHERE d.application_id = ${APP_ID} AND t.tag_id = ${TAG['Last Open']} AND t.int_value > ${NOW_SECONDS - 8 * DAY}`,
  },
];

async function median(times: number, run: () => Promise<number>): Promise<{ ms: number; rows: number }> {
  let rows = await run(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    rows = await run();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)] as number, rows };
}

function selectWithSeglang(store: Store, selection: Selection): Promise<{ ms: number; rows: number }> {
  return median(TIMED_RUNS, async () => {
    const audience = await store.audience.compile(APP_ID, parseSeglang(selection.filter), NOW);
    const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM (${audience.deviceIds}) AS audience`.execute(store.backend.db);
    return Number(rows[0]?.n);
  });
}

async function measureWithoutStatistics(store: Store): Promise<void> {
  for (const selection of SELECTIONS) {
    const compiled = await selectWithSeglang(store, selection);
    report(`sqlite, no statistics: ${selection.name}`, { devices: compiled.rows, seglang_ms: compiled.ms });
  }
}

/** The boolean splitter's question for one batch: which of these 1,000 users match? */
async function measureFilterUsers(dialect: Dialect, store: Store): Promise<void> {
  const batch = Array.from({ length: 1000 }, (_, i) => `user-${1 + i * 997}`);
  for (const selection of SELECTIONS) {
    let matched = 0;
    const { ms } = await median(TIMED_RUNS, async () => {
      matched = (await store.audience.filterUsers(APP_ID, parseSeglang(selection.filter), batch, NOW)).length;
      return matched;
    });
    report(`${dialect}: filterUsers, 1,000 users: ${selection.name}`, { matched, ms });
  }
}

async function measure(dialect: Dialect, store: Store): Promise<void> {
  for (const selection of SELECTIONS) {
    const compiled = await selectWithSeglang(store, selection);
    const hand = await median(TIMED_RUNS, async () => {
      const { rows } = await selection.handWritten.execute(store.backend.db);
      return Number(rows[0]?.n);
    });
    if (compiled.rows !== hand.rows) {
      throw new Error(`${dialect} ${selection.name}: seglang selected ${compiled.rows}, hand-written ${hand.rows}`);
    }
    report(`${dialect}: ${selection.name}`, {
      devices: compiled.rows,
      seglang_ms: compiled.ms,
      hand_ms: hand.ms,
      ratio: compiled.ms / hand.ms,
    });
  }
}

async function benchSqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'journeyd-bench-seglang-'));
  const store = Store.open(`sqlite:${join(dir, 'bench.db')}`);
  try {
    await store.migrate();
    const start = performance.now();
    generateSqlite(store);
    report('sqlite: generate 1M devices × 5 tags', { seconds: (performance.now() - start) / 1000 });
    await measureWithoutStatistics(store);
    if (store.backend.dialect === 'sqlite') store.backend.raw.exec('PRAGMA analysis_limit = 1000; ANALYZE');
    await measure('sqlite', store);
    await measureFilterUsers('sqlite', store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(): Promise<void> {
  const schema = `bench_seglang_${process.pid}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const store = Store.open(url.toString());
    try {
      await store.migrate();
      const start = performance.now();
      await generatePostgres(store);
      report('postgres: generate 1M devices × 5 tags', { seconds: (performance.now() - start) / 1000 });
      await measure('postgres', store);
      await measureFilterUsers('postgres', store);
    } finally {
      await store.close();
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

const backends = process.argv.slice(2);
report('machine load average (1 min) at start', { load: loadavg()[0] ?? 0 });
if (backends.length === 0 || backends.includes('sqlite')) await benchSqlite();
if (backends.length === 0 || backends.includes('postgres')) await benchPostgres();
