import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assignBranch, compileAbSplit } from '../../src/domain/ab-split.js';
import { TEST_APP_CODE } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';
import { startHttpSink, type HttpSink } from '../support/http-sink.js';
import { mailHeader, startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { waitUntil } from '../support/wait-until.js';
import { deviceClockAt, EIGHT_O_CLOCK_MS, exitPoint, NOON_MS, point, startEngineApp, type EngineApp } from './engine-harness.js';

/** Point types end to end over HTTP, each journey observed through its webhooks, mails, tags and statistics. */
describeEachBackend('engine: point types end to end', (dialect) => {
  let app: EngineApp;
  let sink: HttpSink;
  let smtp: SmtpSink;

  before(async () => {
    app = await startEngineApp(dialect);
    sink = await startHttpSink();
    smtp = await startSmtpSink();
  });
  after(async () => {
    await app.close();
    await sink.close();
    await smtp.close();
  });

  const hook = (uuid: string, path: string, next = 'exit') =>
    point(uuid, 'WEBHOOK', { webhook: { url: `${sink.url}/${path}/{{ user_id }}`, method: 'GET' } }, { default: next });
  const hits = (path: string) => sink.requests.filter((r) => r.path.startsWith(`/${path}/`)).map((r) => r.path.slice(path.length + 2));

  describe('set_tags, then a split on the tag just set', () => {
    let journey: string;
    before(async () => {
      await app.device('registerDevice', {
        hwid: 'st-gold-1',
        userId: 'st-gold',
        device_type: 1,
        push_token: 't1',
        tags: { Plan: 'gold' },
      });
      await app.device('registerDevice', { hwid: 'st-gold-2', userId: 'st-gold', device_type: 3, push_token: 't2' });
      await app.device('registerDevice', {
        hwid: 'st-basic-1',
        userId: 'st-basic',
        device_type: 1,
        push_token: 't3',
        tags: { Plan: 'basic' },
      });
      journey = await app.journey([
        point('api', 'START_BY_API', { start_by_api: { attributes: [{ name: 'campaign' }] } }, { default: 'tag' }),
        point('tag', 'SET_TAGS', { set_tags: { tags: { Tier: '{{ tags.Plan }}', Campaign: '{{ campaign }}' } } }, { default: 'gold?' }),
        point('gold?', 'BOOLEAN_SPLITTER', { boolean_splitter: { filter: 'T("Tier", eq, "gold")' } }, { output1: 'gold', default: 'rest' }),
        hook('gold', 'gold'),
        hook('rest', 'rest'),
        exitPoint(),
      ]);
      await app.enter(journey, { payload: { users: ['st-gold', 'st-basic'], attribute_values: { campaign: 'spring' } } });
    });

    it('routes each user by the value the journey wrote', async () => {
      await app.until(journey, 'both runs exited', (s) => s.totals.exited === 2);
      await waitUntil('both webhooks', () => hits('gold').length + hits('rest').length === 2);
      assert.deepEqual(hits('gold'), ['st-gold']);
      assert.deepEqual(hits('rest'), ['st-basic']);
    });

    it('wrote the rendered tags to every device of the user', async () => {
      for (const hwid of ['st-gold-1', 'st-gold-2']) {
        const tags = (await app.device('getTags', { hwid })) as { result: Record<string, unknown> };
        assert.equal(tags.result.Tier, 'gold', hwid);
        assert.equal(tags.result.Campaign, 'spring', hwid);
      }
      const basic = (await app.device('getTags', { userId: 'st-basic' })) as { result: Record<string, unknown> };
      assert.equal(basic.result.Tier, 'basic');
    });
  });

  describe('wait until a time of day on the device clock', () => {
    let journey: string;
    let eight: number;
    before(async () => {
      const soon = deviceClockAt(EIGHT_O_CLOCK_MS - 2_000);
      eight = soon.nextAt(EIGHT_O_CLOCK_MS);
      await app.device('registerDevice', { hwid: 'ut-soon', userId: 'ut-soon', device_type: 1, push_token: 'x', timezone: soon.timezone });
      await app.device('registerDevice', {
        hwid: 'ut-late',
        userId: 'ut-late',
        device_type: 1,
        push_token: 'y',
        timezone: deviceClockAt(NOON_MS).timezone,
      });
      journey = await app.journey([
        point('api', 'START_BY_API', { start_by_api: {} }, { default: 'wait' }),
        point('wait', 'WAIT', { wait: { until_time: '08:00' } }, { default: 'woke' }),
        hook('woke', 'woke'),
        exitPoint(),
      ]);
      await app.enter(journey, { payload: { users: ['ut-soon', 'ut-late'] } });
    });

    it('lets a device whose clock reaches 08:00 in two seconds through then, and holds one past 08:00 until tomorrow', async () => {
      await waitUntil('the early riser woke', () => hits('woke').includes('ut-soon'));
      assert.ok(Date.now() >= eight, 'not before 08:00 on the device');
      const stats = await app.statistics(journey);
      assert.deepEqual([stats.point('wait').in_point, stats.point('wait').passed], [1, 1]);
      assert.deepEqual(hits('woke'), ['ut-soon']);
    });
  });

  describe('wait for an event', () => {
    let journey: string;
    before(async () => {
      for (const user of ['we-buyer', 'we-browser', 'we-idle']) {
        await app.device('registerDevice', { hwid: `${user}-hw`, userId: user, device_type: 1, push_token: `tok-${user}` });
      }
      journey = await app.journey([
        point('api', 'START_BY_API', { start_by_api: {} }, { default: 'wait' }),
        point(
          'wait',
          'WAIT_EVENT',
          {
            wait_event: {
              branches: [
                { key: 'bought', event_name: 'purchase', event_conditions: [{ attribute: 'amount', operator: 'gte', value: 10 }] },
              ],
              timeout_seconds: 3,
            },
          },
          { bought: 'bought', default: 'timeout' },
        ),
        hook('bought', 'bought'),
        hook('timeout', 'timeout'),
        exitPoint(),
      ]);
      await app.enter(journey, { payload: { users: ['we-buyer', 'we-browser', 'we-idle'] } });
      await app.until(journey, 'three runs waiting', (s) => s.point('wait').in_point === 3);
    });

    it('moves a waiting run to its branch when a matching postEvent arrives', async () => {
      await app.device('postEvent', { userId: 'we-buyer', event: 'purchase', attributes: { amount: 25 } });
      await app.device('postEvent', { userId: 'we-browser', event: 'purchase', attributes: { amount: 5 } });
      await waitUntil('the buyer webhook', () => hits('bought').includes('we-buyer'));
    });

    it('sends the others, whose events did not match or never came, down the timeout branch', async () => {
      const stats = await app.until(journey, 'every run exited', (s) => s.totals.exited === 3);
      await waitUntil('the timeout webhooks', () => hits('timeout').length === 2);
      assert.deepEqual(hits('timeout').sort(), ['we-browser', 'we-idle']);
      assert.deepEqual(hits('bought'), ['we-buyer']);
      assert.deepEqual([stats.point('wait').entered, stats.point('wait').passed], [3, 3]);
      assert.deepEqual([stats.point('bought').entered, stats.point('timeout').entered], [1, 2]);
    });
  });

  describe('email through the application SMTP server', () => {
    let journey: string;
    before(async () => {
      const application = await app.store.applications.findByCode(TEST_APP_CODE);
      assert.ok(application);
      await app.store.channelSettings.set(application.id, 'email', 'smtp', {
        host: smtp.host,
        port: smtp.port,
        from: 'Shop <news@shop.example>',
      });
      await app.device('registerDevice', { hwid: 'ann@mail.example', userId: 'em-ann', device_type: 14, tags: { Name: 'Ann' } });
      await app.device('registerDevice', { hwid: 'em-ann-phone', userId: 'em-ann', device_type: 1, push_token: 'tok-ann' });
      journey = await app.journey([
        point('api', 'START_BY_API', { start_by_api: { attributes: [{ name: 'promo_code', default: 'NONE' }] } }, { default: 'mail' }),
        point(
          'mail',
          'SEND_EMAIL',
          { send_email: { subject: 'Hi {{ tags.Name }}', body: 'Your code is {{ promo_code }}' } },
          { default: 'exit' },
        ),
        exitPoint(),
      ]);
      await app.enter(journey, { payload: { users: ['em-ann'] }, attribute_values: { promo_code: 'MAILME' } });
    });

    it('mails the user email device, rendered, and nothing to the other devices', async () => {
      const mail = await waitUntil('the mail', () => smtp.mails.find((m) => m.to.includes('ann@mail.example')));
      assert.equal(mailHeader(mail.raw, 'Subject'), 'Hi Ann');
      assert.match(mail.raw, /Your code is MAILME/);
      const stats = await app.until(journey, 'the mail recorded', (s) => s.point('mail').pointStat.sent === 1);
      assert.deepEqual(stats.point('mail').pointStat, { sent: 1, failed: 0 });
      const log = await app.messages(journey, 'em-ann');
      assert.deepEqual(
        log.map((m) => [m.channel, m.recipient, m.status]),
        [['email', 'ann@mail.example', 'sent']],
      );
    });
  });

  describe('A/B splitter', () => {
    it('sends each user down the branch its hash gives, in the configured proportions', async () => {
      const users = Array.from({ length: 120 }, (_, i) => `ab-user-${i}`);
      for (const userId of users)
        await app.device('registerDevice', { hwid: `${userId}-hw`, userId, device_type: 3, push_token: `t-${userId}` });
      const branches = [
        { key: 'a', percent: 25 },
        { key: 'b', percent: 75 },
      ];
      const journey = await app.journey([
        point('api', 'START_BY_API', { start_by_api: {} }, { default: 'ab' }),
        point('ab', 'AB_SPLITTER', { ab_splitter: { branches } }, { a: 'variant-a', b: 'variant-b' }),
        hook('variant-a', 'variant-a'),
        hook('variant-b', 'variant-b'),
        exitPoint(),
      ]);
      await app.enter(journey, { payload: { users } });
      await app.until(journey, 'every run exited', (s) => s.totals.exited === users.length);
      const split = compileAbSplit(journey, 'ab', branches);
      assert.ok(split.ok);
      const expectedA = users.filter((u) => assignBranch(split.value, u) === 'a');
      const stats = await app.statistics(journey);
      assert.equal(stats.point('variant-a').entered, expectedA.length);
      assert.equal(stats.point('variant-b').entered, users.length - expectedA.length);
      await waitUntil('every webhook', () => hits('variant-a').length + hits('variant-b').length === users.length);
      assert.deepEqual(hits('variant-a').sort(), [...expectedA].sort());
      // The proportions belong to the hash, seeded by the journey's random uuid: over 120 users a 25% branch
      // strays past ±0.1 in about 1% of journeys, over 10,000 ids (σ ≈ 0.004) never.
      const manyIds = Array.from({ length: 10_000 }, (_, i) => `ab-proportion-${i}`);
      const shareA = manyIds.filter((u) => assignBranch(split.value, u) === 'a').length / manyIds.length;
      assert.ok(Math.abs(shareA - 0.25) < 0.1, `branch a took ${shareA} of the ids`);
    });
  });

  describe('templates', () => {
    it('refuses to start a journey whose template does not parse, naming the point', async () => {
      const res = await app.request({
        method: 'POST',
        url: '/api/v3/journeygateway',
        payload: {
          title: 'broken',
          params: { application_code: TEST_APP_CODE },
          points: [
            point('api', 'START_BY_API', { start_by_api: {} }, { default: 'push' }),
            point('push', 'SEND_PUSH', { send_push: { title: 'Hi', body: '{% if vip %}VIP' } }, { default: 'exit' }),
            exitPoint(),
          ],
        },
      });
      assert.equal(res.statusCode, 200, res.body);
      const uuid = res.json<{ info: { uuid: string } }>().info.uuid;
      const start = await app.request({ method: 'POST', url: '/api/v3/journeygateway/start', payload: { uuid } });
      assert.equal(start.statusCode, 400);
      assert.match(start.json().message, /point "push" \(push\): send_push\.body/);
    });
  });
});
