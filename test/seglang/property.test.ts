import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { parseSeglang, type SegExpr } from '../../src/domain/seglang/index.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { referenceSelect, type ReferenceDevice } from '../support/seglang-reference.js';
import { devicesArbitrary, expressionArbitrary, NOW, printSeglang, printStyleArbitrary, TAG_TYPES } from './arbitraries.js';

/**
 * Random device populations (every tag type) and random expressions, printed
 * as text in either syntax: the compiled SQL must select exactly the devices
 * the reference evaluator selects, as devices, as users, and user by user.
 * 50 populations × 10 expressions take about 7 s per backend.
 */
const RUNS = 50;
const EXPRESSIONS_PER_RUN = 10;

describeEachBackend('seglang selects what the reference evaluator selects', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let run = 0;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  /** A fresh pair of applications per population, so populations never mix. */
  function codesForRun(): [string, string] {
    run++;
    const n = String(run).padStart(4, '0');
    return [`P${n}-00001`, `P${n}-00002`];
  }

  async function load(devices: readonly ReferenceDevice[], codes: readonly string[]): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    for (const code of codes) {
      const app = await store.applications.create(code, code);
      ids.set(code, app.id);
      for (const [name, type] of TAG_TYPES) await store.tags.declare(app.id, name, type);
    }
    for (const device of devices) {
      const applicationId = ids.get(device.applicationCode) as number;
      await store.devices.register(applicationId, { hwid: device.hwid, deviceType: device.deviceType, tags: device.tags });
    }
    return ids;
  }

  async function selectedBySql(applicationId: number, expr: SegExpr): Promise<string[]> {
    const { deviceIds } = await store.audience.compile(applicationId, expr, NOW);
    // Joined rather than `IN`, so that a device listed twice would show.
    const { rows } = await sql<{ hwid: string }>`SELECT d.hwid FROM (${deviceIds}) AS a JOIN devices d ON d.id = a.device_id`.execute(
      store.backend.db,
    );
    return rows.map((row) => row.hwid).sort();
  }

  it(`agrees on ${RUNS} random populations × ${EXPRESSIONS_PER_RUN} random expressions`, async () => {
    const [code, otherCode] = codesForRun();
    const scenario = fc.record({
      devices: devicesArbitrary(code, otherCode),
      expressions: fc.array(fc.tuple(expressionArbitrary(code, otherCode), printStyleArbitrary), {
        minLength: EXPRESSIONS_PER_RUN,
        maxLength: EXPRESSIONS_PER_RUN,
      }),
    });
    // Arbitraries are built for one pair of codes; each run renames them to fresh ones.
    await fc.assert(
      fc.asyncProperty(scenario, async ({ devices, expressions }) => {
        const [runCode, runOtherCode] = codesForRun();
        const rename = (c: string) => (c === code ? runCode : runOtherCode);
        const runDevices = devices.map((d) => ({ ...d, applicationCode: rename(d.applicationCode) }));
        const ids = await load(runDevices, [runCode, runOtherCode]);
        const applicationId = ids.get(runCode) as number;
        const world = { applicationCode: runCode, tagTypes: TAG_TYPES, devices: runDevices, now: NOW };
        const ownHwids = runDevices.filter((d) => d.applicationCode === runCode).map((d) => d.hwid);

        for (const [generated, style] of expressions) {
          const expr = renameApplications(generated, rename);
          const text = printSeglang(expr, style);
          const parsed = parseSeglang(text);
          const expected = referenceSelect(expr, world);
          assert.deepEqual(await selectedBySql(applicationId, parsed), expected, `deviceIds of ${text}`);
          // Each device is its own user (no userId), so users are hwids.
          assert.deepEqual((await store.audience.usersMatching(applicationId, parsed, NOW)).sort(), expected, `usersMatching of ${text}`);
          assert.deepEqual(
            (await store.audience.filterUsers(applicationId, parsed, ownHwids, NOW)).sort(),
            expected,
            `filterUsers of ${text}`,
          );
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});

function renameApplications(expr: SegExpr, rename: (code: string) => string): SegExpr {
  switch (expr.kind) {
    case 'app':
      return { ...expr, code: rename(expr.code) };
    case 'tag':
      return expr;
    default:
      return { ...expr, left: renameApplications(expr.left, rename), right: renameApplications(expr.right, rename) };
  }
}
