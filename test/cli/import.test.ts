import { sql } from 'kysely';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importDevicesFile, type ImportFormat } from '../../src/cli/import.js';
import { TagType } from '../../src/domain/tags.js';
import type { Application } from '../../src/store/applications/index.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/import/${name}`, import.meta.url));

/** What both fixture files describe, as getTags returns it. */
const IOS_TAGS = {
  'App Version': '2.10.1',
  Age: 31,
  City: 'Paris',
  Interests: ['music', 'sport'],
  'Last Open': '2024-05-01 08:30',
  Premium: true,
  Score: 4.5,
};

describeEachBackend('devices import', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let app: Application;
  let scratch: string;
  let appCounter = 0;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
    scratch = mkdtempSync(join(tmpdir(), 'journeyd-import-'));
  });
  after(async () => {
    await store.close();
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  });
  beforeEach(async () => {
    app = await store.applications.create(`IMPRT-${String(++appCounter).padStart(5, '0')}`, 'import');
  });

  const run = (file: string, format: ImportFormat, batchSize?: number) => importDevicesFile(store, app.id, { file, format, batchSize });

  /** Date and Version are never inferred from a value, so the fixtures' tags of those types are declared first. */
  async function declareDateAndVersion(): Promise<void> {
    await store.tags.declare(app.id, 'Last Open', TagType.Date);
    await store.tags.declare(app.id, 'App Version', TagType.Version);
  }

  async function tagTypes(): Promise<Record<string, string>> {
    const definitions = await store.tags.list(app.id);
    return Object.fromEntries(definitions.map((d) => [d.name, TagType[d.type]]));
  }

  for (const format of ['ndjson', 'csv'] as const) {
    it(`${format}: imports devices, users and every tag type`, async () => {
      await declareDateAndVersion();
      const totals = await run(fixture(`devices.${format}`), format);
      assert.deepEqual(
        { rows: totals.rows, inserted: totals.inserted, updated: totals.updated, rejected: totals.rejectedCount },
        { rows: 3, inserted: 3, updated: 0, rejected: 0 },
      );

      const ios = await store.devices.find(app.id, 'ios-1');
      assert.deepEqual(ios && [ios.userId, ios.deviceType, ios.pushToken, ios.language, ios.timezone], ['alice', 1, 'apns-1', 'en', 3600]);
      const email = await store.devices.find(app.id, 'email-1');
      assert.deepEqual(email && [email.userId, email.deviceType, email.pushToken, email.language, email.timezone], [
        'email-1',
        14,
        'bob@example.com',
        null,
        null,
      ]);
      const alicesDevices = await store.devices.findByUser(app.id, 'alice');
      assert.deepEqual(alicesDevices.map((d) => d.hwid).sort(), ['android-1', 'ios-1']);

      assert.deepEqual(await store.devices.getTags(app.id, { hwid: 'ios-1' }), IOS_TAGS);
      assert.deepEqual(await store.devices.getTags(app.id, { hwid: 'android-1' }), { Age: 31, City: 'Lyon' });
      assert.deepEqual(await store.devices.getTags(app.id, { hwid: 'email-1' }), {
        'Last Open': '2024-05-01 08:30',
        Premium: false,
        Score: -0.25,
      });
      assert.deepEqual(await tagTypes(), {
        'App Version': 'Version',
        Age: 'Integer',
        City: 'String',
        Interests: 'List',
        'Last Open': 'Date',
        Premium: 'Boolean',
        Score: 'Decimal',
      });
    });

    it(`${format}: re-importing updates devices instead of duplicating them`, async () => {
      await declareDateAndVersion();
      await run(fixture(`devices.${format}`), format);
      const totals = await run(fixture(`devices-update.${format}`), format);
      assert.deepEqual(
        { inserted: totals.inserted, updated: totals.updated, rejected: totals.rejectedCount },
        { inserted: 1, updated: 2, rejected: 0 },
      );
      const devices = await store.backend.db
        .selectFrom('devices')
        .select('hwid')
        .where('application_id', '=', app.id)
        .orderBy('hwid')
        .execute();
      assert.deepEqual(
        devices.map((d) => d.hwid),
        ['android-1', 'email-1', 'ios-1', 'new-1'],
      );

      // Fields the update leaves out keep their stored value; the tags it names are replaced, others stay.
      const ios = await store.devices.find(app.id, 'ios-1');
      assert.deepEqual(ios && [ios.userId, ios.pushToken, ios.language], ['alice', 'apns-1', 'en']);
      const android = await store.devices.find(app.id, 'android-1');
      assert.equal(android?.userId, 'carol');
      const iosTags = { ...IOS_TAGS, City: 'Nice', Interests: ['travel'] };
      if (format === 'ndjson') {
        // NDJSON can say more than CSV: null removes a tag, "" clears the push token.
        delete (iosTags as Partial<typeof iosTags>).Premium;
        assert.equal(android?.pushToken, null);
      } else {
        assert.equal(android?.pushToken, 'fcm-1');
      }
      assert.deepEqual(await store.devices.getTags(app.id, { hwid: 'ios-1' }), iosTags);
      assert.deepEqual(await store.devices.getTags(app.id, { hwid: 'android-1' }), { Age: 31, City: 'Lyon' });
    });
  }

  it('ndjson: rejects bad rows with their line numbers while the good rows land', async () => {
    const totals = await run(fixture('bad-rows.ndjson'), 'ndjson');
    assert.equal(totals.inserted, 2);
    assert.equal(totals.rejectedCount, 7);
    assert.deepEqual(
      totals.rejected.map((r) => [r.line, r.reason]),
      [
        [2, 'hwid is required and must be a non-empty string'],
        [3, 'device_type must be one of 1, 3, 7, 8, 9, 10, 11, 12, 14, 17, 18, 19, 21; got 2'],
        [5, 'timezone must be an integer offset from UTC in seconds, -43200 to 50400; got 1.5'],
        [6, 'tag "Age" is Integer; "old" is not an integer'],
        [7, totals.rejected[4]?.reason ?? ''],
        [8, 'each line must be a JSON object'],
        [9, 'unknown field "deviceType"; tags go in the "tags" object'],
      ],
    );
    assert.match(totals.rejected[4]?.reason ?? '', /^not valid JSON: /);
    assert.deepEqual(await store.devices.getTags(app.id, { hwid: 'ok-2' }), { Score: 1.5 });
    // A rejected row writes nothing, not even the declaration of a tag only it used.
    assert.deepEqual(await tagTypes(), { Age: 'Integer', Score: 'Decimal' });
    const stored = await store.backend.db.selectFrom('devices').select('hwid').where('application_id', '=', app.id).execute();
    assert.deepEqual(stored.map((d) => d.hwid).sort(), ['ok-1', 'ok-2']);
  });

  it('csv: rejects bad rows, malformed records included, with their line numbers', async () => {
    const totals = await run(fixture('bad-rows.csv'), 'csv');
    assert.equal(totals.inserted, 2);
    assert.deepEqual(
      totals.rejected.map((r) => r.line),
      [3, 4, 5, 6, 7],
    );
    assert.deepEqual(
      totals.rejected.map((r) => r.reason.split(';')[0]),
      [
        'hwid is required and must be a non-empty string',
        'device_type must be one of 1, 3, 7, 8, 9, 10, 11, 12, 14, 17, 18, 19, 21',
        'timezone must be an integer offset from UTC in seconds, -43200 to 50400',
        'Invalid Record Length: expect 4, got 2 on line 6',
        'tag "Age" is Integer',
      ],
    );
    const ok2 = await store.devices.find(app.id, 'ok-2');
    assert.equal(ok2?.timezone, -3600);
    assert.deepEqual(await store.devices.getTags(app.id, { hwid: 'ok-2' }), { Age: 2 });
  });

  it('csv: declared tag types decide how a cell reads; undeclared types are inferred from the text', async () => {
    await store.tags.declare(app.id, 'Code', TagType.String);
    await store.tags.declare(app.id, 'Seen', TagType.Date);
    const file = join(scratch, 'typing.csv');
    writeFileSync(
      file,
      [
        'hwid,device_type,Code,Seen,Zip,Count,Ratio,Flag,Labels,Note',
        'd-1,3,123,1714552200,007,42,0.5,true,"[""a"",""b""]",2024-05-01',
      ].join('\n'),
    );
    const totals = await run(file, 'csv');
    assert.equal(totals.rejectedCount, 0);
    assert.deepEqual(await store.devices.getTags(app.id, { hwid: 'd-1' }), {
      Code: '123',
      Count: 42,
      Flag: true,
      Labels: ['a', 'b'],
      Note: '2024-05-01',
      Ratio: 0.5,
      Seen: '2024-05-01 08:30',
      Zip: '007',
    });
    assert.deepEqual(await tagTypes(), {
      Code: 'String',
      Count: 'Integer',
      Flag: 'Boolean',
      Labels: 'List',
      Note: 'String',
      Ratio: 'Decimal',
      Seen: 'Date',
      Zip: 'String',
    });
  });

  it('a repeated hwid is applied in file order across batch boundaries', async () => {
    const file = join(scratch, 'repeats.ndjson');
    const lines = [
      { hwid: 'r-1', device_type: 3, tags: { Level: 1 } },
      { hwid: 'r-2', device_type: 3, tags: { Level: 1 } },
      { hwid: 'r-1', device_type: 3, userId: 'u', tags: { Level: 2 } },
      { hwid: 'r-1', device_type: 3, tags: { Level: 3 } },
      { hwid: 'r-3', device_type: 3 },
    ];
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const totals = await run(file, 'ndjson', 2);
    assert.deepEqual([totals.inserted, totals.updated], [3, 2]);
    assert.deepEqual(await store.devices.getTags(app.id, { hwid: 'r-1' }), { Level: 3 });
    assert.equal((await store.devices.find(app.id, 'r-1'))?.userId, 'u');
  });

  it('a row the database refuses is rejected alone; the rest of its batch lands', async () => {
    // Every row passes validation; the database itself refuses h-2 (as it would on a
    // constraint or size limit that validation does not know of).
    await refuseHwidInDatabase('h-2');
    try {
      const file = join(scratch, 'refused.ndjson');
      const lines = [
        { hwid: 'h-1', device_type: 3, tags: { Note: 'short' } },
        { hwid: 'h-2', device_type: 3, tags: { Note: 'refused' } },
        { hwid: 'h-3', device_type: 3, tags: { Note: 'also short' } },
      ];
      writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
      const totals = await run(file, 'ndjson');
      const landed = await store.backend.db.selectFrom('devices').select('hwid').where('application_id', '=', app.id).execute();
      assert.equal(totals.inserted, 2);
      assert.deepEqual(
        totals.rejected.map((r) => r.line),
        [2],
      );
      assert.match(totals.rejected[0]?.reason ?? '', /^the database refused the row: /);
      assert.deepEqual(landed.map((d) => d.hwid).sort(), ['h-1', 'h-3']);
    } finally {
      await allowAllHwids();
    }
  });

  async function refuseHwidInDatabase(hwid: string): Promise<void> {
    const statement =
      dialect === 'sqlite'
        ? `CREATE TRIGGER test_refuse BEFORE INSERT ON devices WHEN NEW.hwid = '${hwid}' BEGIN SELECT RAISE(ABORT, 'refused by test'); END`
        : `ALTER TABLE devices ADD CONSTRAINT test_refuse CHECK (hwid <> '${hwid}')`;
    await sql.raw(statement).execute(store.backend.db);
  }

  async function allowAllHwids(): Promise<void> {
    const statement = dialect === 'sqlite' ? 'DROP TRIGGER test_refuse' : 'ALTER TABLE devices DROP CONSTRAINT test_refuse';
    await sql.raw(statement).execute(store.backend.db);
  }
});
