/**
 * `journeyd devices import` on SQLite: 1,000,000 devices with 5 tags each
 * (City String, Age Integer, Score Decimal, Last Open Date, Premium Boolean).
 *
 * 1. generate the NDJSON file (streamed, so this process stays small);
 * 2. run the real CLI in a child process into a fresh database file, under
 *    GNU time for its peak RSS;
 * 3. the floor: the same device and tag rows inserted with plain prepared
 *    statements in one transaction into the same schema (fresh file), with no
 *    file to read, nothing to validate and nothing to look up.
 *
 * Prints rows/s for both and their ratio (target: import within 3x of the
 * floor, peak RSS under 300 MB). DEVICES=n overrides the row count.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDateValue, TagType } from '../../src/domain/tags.js';
import { Store } from '../../src/store/store.js';
import { report } from '../report.js';

const DEVICES = Number(process.env.DEVICES ?? 1_000_000);
const APP_CODE = 'BENCH-00001';
const GNU_TIME = '/usr/bin/time';
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const CITIES = ['Paris', 'Berlin', 'Madrid', 'Rome', 'Lisbon', 'Vienna', 'Prague', 'Warsaw', 'Dublin', 'Oslo'];
const LAST_OPEN_BASE = 1_700_000_000 - (1_700_000_000 % 60);

/** A cheap integer hash (so hwids arrive in random index order, as real ones do). */
function mix(i: number): number {
  let x = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

interface BenchDevice {
  hwid: string;
  userId: string;
  deviceType: number;
  pushToken: string;
  timezone: number;
  city: string;
  age: number;
  score: number;
  lastOpen: number;
  premium: boolean;
}

function benchDevice(i: number): BenchDevice {
  const h = mix(i);
  return {
    hwid: `${h.toString(16).padStart(8, '0')}-${i.toString(16).padStart(8, '0')}`,
    userId: `user-${i >>> 1}`,
    deviceType: h & 1 ? 1 : 3,
    pushToken: `token-${mix(i + DEVICES).toString(16)}${h.toString(16)}`,
    timezone: (((h >>> 8) % 25) - 12) * 3600,
    city: CITIES[h % CITIES.length] ?? 'Paris',
    age: 18 + (h % 60),
    score: (h % 10_000) / 100,
    lastOpen: LAST_OPEN_BASE + ((h >>> 4) % 1_000_000) * 60,
    premium: (h & 2) === 2,
  };
}

async function generateFile(path: string): Promise<void> {
  const out = createWriteStream(path);
  const LINES_PER_WRITE = 5000;
  for (let start = 0; start < DEVICES; start += LINES_PER_WRITE) {
    let chunk = '';
    for (let i = start; i < Math.min(start + LINES_PER_WRITE, DEVICES); i++) {
      const d = benchDevice(i);
      chunk += `${JSON.stringify({
        hwid: d.hwid,
        userId: d.userId,
        device_type: d.deviceType,
        push_token: d.pushToken,
        language: 'en',
        timezone: d.timezone,
        tags: { City: d.city, Age: d.age, Score: d.score, 'Last Open': formatDateValue(d.lastOpen), Premium: d.premium },
      })}\n`;
    }
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** A migrated database file with the bench application; Last Open is declared since dates are never inferred. */
async function prepareDatabase(path: string, declareAllTags: boolean): Promise<{ store: Store; applicationId: number }> {
  const store = Store.open(`sqlite:${path}`);
  await store.migrate();
  const app = await store.applications.create(APP_CODE, 'bench');
  await store.tags.declare(app.id, 'Last Open', TagType.Date);
  if (declareAllTags) {
    await store.tags.declare(app.id, 'City', TagType.String);
    await store.tags.declare(app.id, 'Age', TagType.Integer);
    await store.tags.declare(app.id, 'Score', TagType.Decimal);
    await store.tags.declare(app.id, 'Premium', TagType.Boolean);
  }
  return { store, applicationId: app.id };
}

interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

async function runCli(databasePath: string, file: string): Promise<ChildRun> {
  const cli = [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'devices', 'import', file, '--app', APP_CODE];
  const [command, ...args] = existsSync(GNU_TIME) ? [GNU_TIME, '-v', ...cli] : cli;
  const started = Date.now();
  const child = spawn(command ?? process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, JOURNEYD_DATABASE_URL: `sqlite:${databasePath}` },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr, wallMs: Date.now() - started };
}

interface FloorRun {
  wallMs: number;
  cpuMs: number;
}

/**
 * The floor: the same rows, plain prepared statements, one transaction. Its
 * time includes closing the database, whose WAL checkpoint writes the rows
 * into the database file as the import's checkpoints do along the way.
 */
async function insertFloor(databasePath: string): Promise<FloorRun> {
  const { store, applicationId } = await prepareDatabase(databasePath, true);
  if (store.backend.dialect !== 'sqlite') throw new Error('the floor runs on SQLite');
  const raw = store.backend.raw;
  const tagIds = new Map((await store.tags.list(applicationId)).map((d) => [d.name, d.id]));
  const tagId = (name: string) => tagIds.get(name) ?? 0;
  const [city, age, score, lastOpen, premium] = ['City', 'Age', 'Score', 'Last Open', 'Premium'].map(tagId);
  const insertDevice = raw.prepare(
    `INSERT INTO devices (application_id, hwid, user_id, device_type, push_token, language, timezone, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertTag = raw.prepare(`INSERT INTO device_tags (device_id, tag_id, int_value, real_value, text_value) VALUES (?, ?, ?, ?, ?)`);
  const started = Date.now();
  const cpuBefore = process.cpuUsage();
  raw.transaction(() => {
    const now = Date.now();
    for (let i = 0; i < DEVICES; i++) {
      const d = benchDevice(i);
      const id = insertDevice.run(applicationId, d.hwid, d.userId, d.deviceType, d.pushToken, 'en', d.timezone, now, now).lastInsertRowid;
      insertTag.run(id, city, null, null, d.city);
      insertTag.run(id, age, d.age, null, null);
      insertTag.run(id, score, null, d.score, null);
      insertTag.run(id, lastOpen, d.lastOpen, null, null);
      insertTag.run(id, premium, d.premium ? 1 : 0, null, null);
    }
  })();
  await store.close();
  const cpu = process.cpuUsage(cpuBefore);
  return { wallMs: Date.now() - started, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'journeyd-bench-import-'));
  try {
    const file = join(dir, 'devices.ndjson');
    const started = Date.now();
    await generateFile(file);
    report('import: generate NDJSON', {
      devices: DEVICES,
      MB: statSync(file).size / 1e6,
      seconds: (Date.now() - started) / 1000,
    });

    const importDb = join(dir, 'import.db');
    await (await prepareDatabase(importDb, false)).store.close();
    const run = await runCli(importDb, file);
    if (run.code !== 0) throw new Error(`import exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
    const importSeconds = Number(/ in (\d+(?:\.\d+)?) s\n/.exec(run.stdout)?.[1]);
    const fromTime = (label: string) => Number(new RegExp(`${label}: ([\\d.]+)`).exec(run.stderr)?.[1]);
    const peakRssKb = fromTime('Maximum resident set size \\(kbytes\\)');
    const importCpuSeconds = fromTime('User time \\(seconds\\)') + fromTime('System time \\(seconds\\)');
    const importRate = DEVICES / importSeconds;
    report('import: journeyd devices import (CLI)', {
      'rows/s': importRate,
      seconds: importSeconds,
      'wall s (with startup)': run.wallMs / 1000,
      'CPU s (with startup)': Number.isFinite(importCpuSeconds) ? importCpuSeconds : 'n/a',
      'peak RSS MB': Number.isFinite(peakRssKb) ? Math.round(peakRssKb / 1024) : 'n/a (no GNU time)',
    });

    const floor = await insertFloor(join(dir, 'floor.db'));
    const floorRate = (DEVICES * 1000) / floor.wallMs;
    report('import: floor (prepared inserts, 1 transaction)', {
      'rows/s': floorRate,
      seconds: floor.wallMs / 1000,
      'CPU s': floor.cpuMs / 1000,
    });
    report('import: ratio import/floor (target <= 3)', {
      'wall ratio': floorRate / importRate,
      'CPU ratio': Number.isFinite(importCpuSeconds) ? importCpuSeconds / (floor.cpuMs / 1000) : 'n/a',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
