import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IMPORT_EXIT } from '../../src/cli/import.js';
import { TagType } from '../../src/domain/tags.js';
import type { Application } from '../../src/store/applications/index.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { runJourneydCli } from '../support/journeyd-cli.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/import/${name}`, import.meta.url));

/** `journeyd devices import …` in its own process. */
const runImportCli = (databaseUrl: string, args: string[]) => runJourneydCli(databaseUrl, ['devices', 'import', ...args]);

describeEachBackend('journeyd devices import (CLI)', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let app: Application;
  let scratch: string;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
    app = await store.applications.create('CLIMP-00001', 'cli import');
    await store.tags.declare(app.id, 'Last Open', TagType.Date);
    await store.tags.declare(app.id, 'App Version', TagType.Version);
    scratch = mkdtempSync(join(tmpdir(), 'journeyd-import-cli-'));
  });
  after(async () => {
    await store.close();
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  async function deviceCount(): Promise<number> {
    const rows = await store.backend.db.selectFrom('devices').select('hwid').where('application_id', '=', app.id).execute();
    return rows.length;
  }

  it('refuses an unknown application with exit 2 and writes nothing', async () => {
    const result = await runImportCli(database.url, [fixture('devices.ndjson'), '--app', 'NOAPP-00000']);
    assert.equal(result.code, IMPORT_EXIT.invalidInput);
    assert.match(result.stderr, /no application NOAPP-00000/);
    assert.equal(await deviceCount(), 0);
  });

  it('refuses a CSV whose header lacks a required column with exit 2 and writes nothing', async () => {
    const file = join(scratch, 'no-type.csv');
    writeFileSync(file, 'hwid,City\nh-1,Paris\n');
    const result = await runImportCli(database.url, [file, '--app', app.code]);
    assert.equal(result.code, IMPORT_EXIT.invalidInput);
    assert.match(result.stderr, /the header has no "device_type" column/);
    assert.equal(await deviceCount(), 0);
  });

  it('refuses a missing file and an unknown extension with exit 2', async () => {
    const missing = await runImportCli(database.url, [join(scratch, 'nope.ndjson'), '--app', app.code]);
    assert.equal(missing.code, IMPORT_EXIT.invalidInput);
    assert.match(missing.stderr, /cannot read .*nope\.ndjson/);
    const unknown = await runImportCli(database.url, [fixture('devices.ndjson'), '--app', app.code, '--format', 'xml']);
    assert.equal(unknown.code, IMPORT_EXIT.invalidInput);
    assert.match(unknown.stderr, /--format must be csv or ndjson/);
  });

  it('imports a file, exits 0 and prints the summary', async () => {
    const result = await runImportCli(database.url, [fixture('devices.ndjson'), '--app', app.code]);
    assert.equal(result.code, IMPORT_EXIT.ok, result.stderr);
    assert.match(result.stdout, /^Imported devices\.ndjson into CLIMP-00001 in \d+\.\d s\n/);
    assert.match(result.stdout, /\n {2}rows +3 \([\d,]+ rows\/s\)\n {2}new +3\n {2}updated +0\n {2}rejected +0\n$/);
    assert.equal(await deviceCount(), 3);
    assert.deepEqual(await store.devices.getTags(app.id, { hwid: 'email-1' }), {
      'Last Open': '2024-05-01 08:30',
      Premium: false,
      Score: -0.25,
    });
  });

  it('exits 3 and lists rejected rows by line when some rows are bad', async () => {
    const result = await runImportCli(database.url, [fixture('bad-rows.csv'), '--app', app.code]);
    assert.equal(result.code, IMPORT_EXIT.rowsRejected, result.stderr);
    assert.match(result.stdout, /\n {2}new +2\n/);
    assert.match(
      result.stdout,
      /\n {2}rejected +5\nRejected rows:\n {2}line 3: hwid is required and must be a non-empty string\n {2}line 4: device_type must be one of/,
    );
    assert.match(result.stdout, /\n {2}line 7: tag "Age" is Integer; "old" is not an integer\n$/);
    assert.ok(await store.devices.find(app.id, 'ok-2'));
  });

  it('stops with exit 1 on a database failure and says what was committed', async () => {
    const broken = await createTestDatabase(dialect);
    const brokenStore = Store.open(broken.url);
    try {
      await brokenStore.migrate();
      await brokenStore.applications.create('BROKE-00001', 'broken');
      // Tag values have nowhere to go: every batch fails, which is not the fault of any row.
      await brokenStore.backend.db.schema.dropTable('device_tags').execute();
      const result = await runImportCli(broken.url, [fixture('devices.ndjson'), '--app', 'BROKE-00001']);
      assert.equal(result.code, IMPORT_EXIT.failed);
      assert.match(result.stdout, /^Import of devices\.ndjson stopped in /);
      assert.match(result.stdout, /\n {2}new +0\n/);
      assert.match(result.stderr, /journeyd: import stopped: .*device_tags/);
      assert.match(result.stderr, /importing the file again is safe/);
    } finally {
      await brokenStore.close();
      await broken.drop();
    }
  });

  it('lists the first 20 rejections and counts the rest', async () => {
    const file = join(scratch, 'many-bad.ndjson');
    const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify({ hwid: `bad-${i}`, device_type: 0 }));
    writeFileSync(file, [JSON.stringify({ hwid: 'fine', device_type: 3 }), ...lines].join('\n'));
    const result = await runImportCli(database.url, [file, '--app', app.code, '--batch-size', '2']);
    assert.equal(result.code, IMPORT_EXIT.rowsRejected);
    const listed = result.stdout.split('\n').filter((l) => l.startsWith('  line '));
    assert.equal(listed.length, 20);
    assert.equal(listed[0], '  line 2: device_type must be one of 1, 3, 7, 8, 9, 10, 11, 12, 14, 17, 18, 19, 21; got 0');
    assert.match(result.stdout, /\n {2}… and 5 more\n$/);
    assert.ok(await store.devices.find(app.id, 'fine'));
  });
});
