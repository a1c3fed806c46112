import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { describeDatabase } from '../../src/store/database-url.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { runJourneydCli } from '../support/journeyd-cli.js';

/** `journeyd --help`, `journeyd <command> --help`, and which database a command opens (or refuses to create). */

describe('journeyd --help', () => {
  const nowhere = 'sqlite:/nonexistent/journeyd.db';

  it('prints every command on stdout and exits 0, touching no database', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const result = await runJourneydCli(nowhere, args);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^usage: journeyd <command> \[--help\]\n/);
      for (const command of ['serve', 'migrate', 'apps create', 'apps list', 'tokens revoke', 'devices import', 'channels list']) {
        assert.ok(result.stdout.includes(`  ${command}`), `${args.join(' ')} does not show ${command}`);
      }
      assert.equal(result.stderr, '');
    }
  });

  it('prints one command with <command> --help or help <command>', async () => {
    for (const args of [
      ['tokens', '--help'],
      ['tokens', 'revoke', '--help'],
      ['help', 'tokens'],
    ]) {
      const result = await runJourneydCli(nowhere, args);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^usage: journeyd tokens …\n/);
      assert.match(result.stdout, /tokens revoke TOKEN \| --id ID/);
      assert.doesNotMatch(result.stdout, /devices import/);
    }
  });

  it('answers an unknown command with the usage on stderr and exit code 2', async () => {
    const result = await runJourneydCli(nowhere, ['frobnicate']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^journeyd: unknown command: frobnicate\n\nusage: journeyd <command>/);
  });
});

describe('a command run where there is no journeyd database', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'journeyd-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const args of [
    ['apps', 'list'],
    ['tokens', 'list'],
    ['apps', 'create'],
    ['channels', 'list', '--app', 'DEMO0-00000'],
  ]) {
    it(`${args.join(' ')} names the file it looked for and creates none`, async () => {
      const file = join(dir, 'data', 'journeyd.db');
      const result = await runJourneydCli(`sqlite:${file}`, args);
      assert.equal(result.code, 1, result.stdout);
      assert.equal(
        result.stderr,
        `journeyd: no journeyd database: sqlite:${file} does not exist. Set JOURNEYD_DATABASE_URL to the database journeyd serve ` +
          'uses (the default sqlite:./data/journeyd.db is relative to the directory you run in), or create one with journeyd migrate\n',
      );
      assert.equal(existsSync(file), false);
    });
  }

  it('refuses an empty SQLite file and writes no table into it', async () => {
    const file = join(dir, 'empty.db');
    writeFileSync(file, '');
    const result = await runJourneydCli(`sqlite:${file}`, ['tokens', 'list']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^journeyd: no journeyd database: \S+ has no journeyd schema\. /);
    assert.ok(result.stderr.includes(`sqlite:${file}`));
    const sqlite = new Database(file, { readonly: true });
    try {
      assert.deepEqual(sqlite.prepare('SELECT name FROM sqlite_master').all(), []);
    } finally {
      sqlite.close();
    }
  });
});

describeEachBackend('journeyd apps list and migrate on a database', (dialect) => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase(dialect);
  });
  after(() => database.drop());

  it('refuses a database without journeyd schema, then migrate sets it up and apps list names the database it read', async () => {
    const refused = await runJourneydCli(database.url, ['apps', 'list']);
    assert.equal(refused.code, 1);
    // A test database is a fresh Postgres schema, or a SQLite file not yet created.
    assert.match(refused.stderr, /^journeyd: no journeyd database: \S+ (has no journeyd schema|does not exist)\. /);

    const migrated = await runJourneydCli(database.url, ['migrate']);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /^applied: 0001_core, /);
    assert.equal(migrated.stderr, `journeyd: database ${describeDatabase(database.url)}\n`);

    const created = await runJourneydCli(database.url, ['apps', 'create', '--code', 'SHOP1-00001', '--name', 'Shop']);
    assert.equal(created.code, 0, created.stderr);
    const listed = await runJourneydCli(database.url, ['apps', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, 'SHOP1-00001  Shop\n');
    assert.equal(listed.stderr, `journeyd: database ${describeDatabase(database.url)}\n`);
  });
});
