import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { ChannelProviders } from '../../src/channels/registry.js';
import { defaultChannelSetting, parseChannelSetting, redactedConfig } from '../../src/channels/settings.js';
import { createLogger } from '../../src/logger.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { SINK_WEBHOOK_DESTINATIONS, startHttpSink } from '../support/http-sink.js';

describe('channel settings', () => {
  it('accepts each channel’s providers with a valid configuration', () => {
    assert.deepEqual(parseChannelSetting('email', 'smtp', { host: 'mail.example', port: 587, from: 'a@example.com' }), {
      ok: true,
      value: { provider: 'smtp', config: { host: 'mail.example', port: 587, from: 'a@example.com' } },
    });
    assert.equal(parseChannelSetting('email', 'log', {}).ok, true);
    assert.equal(parseChannelSetting('webhook', 'http', { timeout_ms: 5000 }).ok, true);
    assert.equal(parseChannelSetting('push', 'log', {}).ok, true);
  });

  it('names the provider or field that is wrong', () => {
    assert.deepEqual(parseChannelSetting('push', 'smtp', {}), {
      ok: false,
      error: 'channel push has no provider "smtp"; choose one of log',
    });
    const missing = parseChannelSetting('email', 'smtp', { host: 'mail.example', from: 'a@example.com' });
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.error, /^smtp config.*port/);
    const badType = parseChannelSetting('email', 'smtp', { host: 'h', port: '25', from: 'a@example.com' });
    assert.match(badType.ok ? '' : badType.error, /^smtp config\.port: /);
    const extra = parseChannelSetting('webhook', 'http', { timeout: 5 });
    assert.match(extra.ok ? '' : extra.error, /^http config/);
  });

  it('defaults push and SMS to the log provider, webhooks to HTTP, and leaves email to be configured', () => {
    assert.deepEqual(defaultChannelSetting('push'), { provider: 'log', config: {} });
    assert.deepEqual(defaultChannelSetting('sms'), { provider: 'log', config: {} });
    assert.deepEqual(defaultChannelSetting('webhook'), { provider: 'http', config: {} });
    assert.equal(defaultChannelSetting('email'), undefined);
  });

  it('hides the SMTP password when shown', () => {
    assert.deepEqual(redactedConfig({ host: 'h', pass: 'secret' }), { host: 'h', pass: '***' });
  });
});

describeEachBackend('channel providers per application', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let appId: number;
  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
    appId = (await store.applications.create('CHANS-00001', 'channels')).id;
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  it('stores, lists and removes settings', async () => {
    await store.channelSettings.set(appId, 'email', 'smtp', { host: 'h', port: 25, from: 'a@b.c' });
    await store.channelSettings.set(appId, 'email', 'log', {});
    assert.deepEqual(
      (await store.channelSettings.list(appId)).map((s) => [s.channel, s.provider, s.config]),
      [['email', 'log', {}]],
    );
    assert.equal(await store.channelSettings.remove(appId, 'email'), true);
    assert.equal(await store.channelSettings.remove(appId, 'email'), false);
    assert.equal(await store.channelSettings.get(appId, 'email'), undefined);
  });

  it('fails email permanently, naming the fix, while the application has not configured it', async () => {
    const providers = new ChannelProviders(store.channelSettings, createLogger('silent'), { settingsTtlMs: 0 });
    try {
      const { provider, result } = await providers.deliver(
        appId,
        { channel: 'email', recipient: 'a@example.com', payload: { subject: 's', body: 'b' } },
        'k',
      );
      assert.equal(provider, 'smtp');
      assert.equal(result.outcome, 'permanent');
      assert.match(result.outcome === 'permanent' ? result.error : '', /email channel is not configured.*journeyd channels set/);
    } finally {
      await providers.close();
    }
  });

  it('records push through the log provider, and applies a changed setting once the cache expires', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString());
          callback();
        },
      }),
    );
    const providers = new ChannelProviders(store.channelSettings, logger, {
      settingsTtlMs: 0,
      webhookDestinations: SINK_WEBHOOK_DESTINATIONS,
    });
    const sink = await startHttpSink(() => ({ status: 204 }));
    try {
      const push = await providers.deliver(
        appId,
        { channel: 'push', recipient: 'token-1', payload: { title: 'Hi', body: 'Code SUMMER25' } },
        'key-1',
      );
      assert.deepEqual(push, { provider: 'log', result: { outcome: 'ok' } });
      const record = JSON.parse(lines.find((l) => l.includes('log provider')) ?? '{}') as Record<string, unknown>;
      assert.equal(record.recipient, 'token-1');
      assert.equal(record.idempotencyKey, 'key-1');
      assert.deepEqual(record.content, { title: 'Hi', body: 'Code SUMMER25' });

      await store.channelSettings.set(appId, 'webhook', 'http', { timeout_ms: 1000 });
      const hook = await providers.deliver(
        appId,
        { channel: 'webhook', recipient: sink.url, payload: { method: 'GET', headers: {} } },
        'k',
      );
      assert.deepEqual(hook, { provider: 'http', result: { outcome: 'ok', responseCode: 204 } });

      await store.backend.db
        .updateTable('channel_settings')
        .set({ config: '{"timeout_ms": "soon"}' })
        .where('application_id', '=', appId)
        .execute();
      const broken = await providers.deliver(
        appId,
        { channel: 'webhook', recipient: sink.url, payload: { method: 'GET', headers: {} } },
        'k',
      );
      assert.equal(broken.result.outcome, 'permanent');
      assert.match(broken.result.outcome === 'permanent' ? broken.result.error : '', /invalid webhook channel setting/);
    } finally {
      await providers.close();
      await sink.close();
    }
  });
});
