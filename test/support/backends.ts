import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import pg from 'pg';
import type { Dialect } from '../../src/store/backend.js';

/**
 * Every store test runs on both backends. SQLite gets a fresh file per
 * database; Postgres a fresh schema in JOURNEYD_TEST_POSTGRES_URL's database.
 * Outside CI an unreachable Postgres skips its suites with a visible reason;
 * with CI=true it fails them.
 */
export const POSTGRES_URL = process.env.JOURNEYD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  readonly dialect: Dialect;
  readonly url: string;
  drop(): Promise<void>;
}

async function probePostgres(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `Postgres not reachable at ${POSTGRES_URL} (${(error as Error).message}); set JOURNEYD_TEST_POSTGRES_URL`;
  } finally {
    await client.end().catch(() => {});
  }
}

const postgresUnavailable = await probePostgres();
if (postgresUnavailable && process.env.CI === 'true') {
  throw new Error(`CI requires the Postgres suite: ${postgresUnavailable}`);
}

let counter = 0;

export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  const name = `jd_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'journeyd-test-'));
    return {
      dialect,
      url: `sqlite:${join(dir, `${name}.db`)}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${name}`);
  return {
    dialect,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await client.end();
    },
  };
}

/** Declares the suite once per backend: `sqlite: <title>` and `postgres: <title>`. */
export function describeEachBackend(title: string, body: (dialect: Dialect) => void): void {
  describe(`sqlite: ${title}`, () => body('sqlite'));
  describe(`postgres: ${title}`, { skip: postgresUnavailable ?? false }, () => body('postgres'));
}

/** A suite about Postgres alone (skipped, visibly, like the Postgres half of describeEachBackend). */
export function describePostgres(title: string, body: () => void): void {
  describe(`postgres: ${title}`, { skip: postgresUnavailable ?? false }, body);
}
