import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, it } from 'node:test';
import { runChannelsCommand } from '../../src/cli/channels.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { runJourneydCli } from '../support/journeyd-cli.js';

const APP = 'CHCLI-00001';

function recorder(chunks: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
}

/** Runs `journeyd channels <sub> …` in this process against `databaseUrl`, capturing its output. */
async function channels(databaseUrl: string, sub: string, args: string[]) {
  // Writables that record each write synchronously, so the text is complete when the command returns.
  const out: string[] = [];
  const err: string[] = [];
  const stdout = recorder(out);
  const stderr = recorder(err);
  const code = await runChannelsCommand(sub, args, { stdout, stderr, databaseUrl });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describeEachBackend('journeyd channels (CLI)', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let appId: number;
  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
    appId = (await store.applications.create(APP, 'cli')).id;
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  it('sets an SMTP server for email and shows it with the password hidden', async () => {
    const config = '{"host":"mail.example","port":587,"from":"news@shop.example","user":"u","pass":"secret"}';
    const set = await channels(database.url, 'set', ['--app', APP, '--channel', 'email', '--config', config]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /email: smtp .*"pass":"\*\*\*"/);
    const stored = await store.channelSettings.get(appId, 'email');
    assert.equal(stored?.provider, 'smtp');
    assert.equal(stored?.config.pass, 'secret');

    const list = await channels(database.url, 'list', ['--app', APP]);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split('\t').slice(0, 2)),
      [
        ['push', 'log'],
        ['email', 'smtp'],
        ['sms', 'log'],
        ['webhook', 'http'],
      ],
    );
    assert.ok(!list.stdout.includes('secret'));
  });

  it('refuses an invalid setting, naming the field, and writes nothing', async () => {
    const before = await store.channelSettings.list(appId);
    const bad = await channels(database.url, 'set', ['--app', APP, '--channel', 'webhook', '--config', '{"timeout_ms":0}']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /http config\.timeout_ms/);
    const wrongProvider = await channels(database.url, 'set', ['--app', APP, '--channel', 'push', '--provider', 'smtp']);
    assert.equal(wrongProvider.code, 2);
    assert.match(wrongProvider.stderr, /channel push has no provider "smtp"/);
    const notJson = await channels(database.url, 'set', ['--app', APP, '--channel', 'email', '--config', '{host']);
    assert.match(notJson.stderr, /--config must be a JSON object/);
    const noApp = await channels(database.url, 'list', ['--app', 'NOAPP-00000']);
    assert.equal(noApp.code, 2);
    assert.match(noApp.stderr, /no application NOAPP-00000/);
    assert.deepEqual(await store.channelSettings.list(appId), before);
  });

  it('resets a channel to its default provider', async () => {
    await store.channelSettings.set(appId, 'sms', 'log', {});
    const reset = await channels(database.url, 'reset', ['--app', APP, '--channel', 'email']);
    assert.equal(reset.code, 0);
    assert.equal(await store.channelSettings.get(appId, 'email'), undefined);
    const list = await channels(database.url, 'list', ['--app', APP]);
    assert.match(list.stdout, /email\tsmtp\t\(not configured/);
  });
});

it('journeyd channels is wired into the journeyd command', async () => {
  const database = await createTestDatabase('sqlite');
  const store = Store.open(database.url);
  try {
    await store.migrate();
    await store.applications.create(APP, 'cli');
    const { code, stdout } = await runJourneydCli(database.url, ['channels', 'list', '--app', APP]);
    assert.equal(code, 0);
    assert.match(stdout, /^push\tlog\t\{\}\t\(default\)$/m);
  } finally {
    await store.close();
    await database.drop();
  }
});
