/** Databases and populations the benchmark suites share. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import type { Dialect } from '../src/store/backend.js';
import { Store } from '../src/store/store.js';

export const POSTGRES_URL = process.env.JOURNEYD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface BenchDatabase {
  /** A `JOURNEYD_DATABASE_URL` for the new database. */
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh SQLite file in a temporary folder, or a fresh Postgres schema, so runs never see each other's data. */
export async function createDatabase(dialect: Dialect): Promise<BenchDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'journeyd-bench-'));
    return { url: `sqlite:${join(dir, 'bench.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
  await onPostgres(`CREATE SCHEMA ${schema}`);
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.toString(), drop: () => onPostgres(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
}

async function onPostgres(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * `count` users `user-1` …, each with one iOS device `hw-<i>` that has a push
 * token and timezone UTC+1; every other device is tagged Tier=gold, the rest
 * Tier=silver. Generated in SQL, so seeding a million costs seconds.
 */
export async function seedUsers(store: Store, applicationId: number, count: number): Promise<void> {
  const db = store.backend.db;
  const now = Date.now();
  const series =
    store.dialect === 'sqlite'
      ? sql`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count}) SELECT i FROM n`
      : sql`SELECT i FROM generate_series(1, ${count}::int) AS n(i)`;
  await sql`
    INSERT INTO devices (application_id, hwid, user_id, device_type, push_token, timezone, created_at, updated_at)
    SELECT ${applicationId}, 'hw-' || i, 'user-' || i, 1, 'token-' || i, 3600, ${now}, ${now} FROM (${series}) AS s`.execute(db);
  const { id: tagId } = await db
    .insertInto('tag_definitions')
    .values({ application_id: applicationId, name: 'Tier', type: 2, created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  await sql`
    INSERT INTO device_tags (device_id, tag_id, text_value)
    SELECT d.id, ${tagId}, CASE WHEN d.id % 2 = 0 THEN 'gold' ELSE 'silver' END
    FROM devices d WHERE d.application_id = ${applicationId}`.execute(db);
  if (store.dialect === 'postgres') await sql`ANALYZE`.execute(db);
}

/** A journey point as the journey API takes it, with `POINT_TYPE_` implied. */
export function point(uuid: string, type: string, data: Record<string, unknown>, outputs: Record<string, string> = {}) {
  return {
    uuid,
    title: uuid,
    point_type: `POINT_TYPE_${type}`,
    point_data: data,
    outputs: Object.entries(outputs).map(([key, next_point_uuid]) => ({ key, next_point_uuid })),
  };
}

/** A migrated store on a fresh database; `close` closes it and drops the database. */
export async function openBenchStore(dialect: Dialect): Promise<{ store: Store; close: () => Promise<void> }> {
  const database = await createDatabase(dialect);
  const store = Store.open(database.url);
  await store.migrate();
  return {
    store,
    close: async () => {
      await store.close();
      await database.drop();
    },
  };
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface SuiteChild {
  readonly child: ChildProcess;
  /** The rest of the next line the child prints that starts with `prefix`. */
  readonly nextLine: (prefix: string) => Promise<string>;
}

/** Runs `file` (a suite) with `args` in a child Node process whose stdout the suite reads line by line. */
export function spawnSuiteChild(file: string, args: readonly string[]): SuiteChild {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  return {
    child,
    nextLine: (prefix) =>
      new Promise((resolve) => {
        const onLine = (line: string) => {
          if (!line.startsWith(prefix)) return;
          lines.off('line', onLine);
          resolve(line.slice(prefix.length));
        };
        lines.on('line', onLine);
      }),
  };
}
