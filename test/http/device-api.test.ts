import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';

const APP = TEST_APP_CODE;

describeEachBackend('Device API: devices, users, tags and events', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  async function call(method: string, request: Record<string, unknown>, headers: Record<string, string> = {}) {
    const res = await ctx.request({ method: 'POST', url: `/json/1.3/${method}`, payload: { request }, headers });
    return { status: res.statusCode, body: res.json<{ status_code: number; status_message: string; response: any }>() };
  }

  async function ok(method: string, request: Record<string, unknown>): Promise<any> {
    const { status, body } = await call(method, request);
    assert.equal(status, 200, `${method}: ${JSON.stringify(body)}`);
    assert.equal(body.status_code, 200);
    assert.equal(body.status_message, 'OK');
    return body.response;
  }

  async function deviceRow(hwid: string) {
    return ctx.store.backend.db
      .selectFrom('devices')
      .innerJoin('applications', 'applications.id', 'devices.application_id')
      .select(['hwid', 'user_id', 'device_type', 'push_token', 'language', 'timezone'])
      .where('applications.code', '=', APP)
      .where('hwid', '=', hwid)
      .executeTakeFirst();
  }

  it('registers a device and answers in the Pushwoosh envelope', async () => {
    const response = await ok('registerDevice', {
      application: APP,
      hwid: 'dev-1',
      device_type: 3,
      push_token: 'fcm-token',
      language: 'pt-BR',
      timezone: -10800,
      // Fields Pushwoosh SDKs send that journeyd does not use are accepted and ignored.
      app_version: '2.0',
      device_model: 'Pixel',
    });
    assert.equal(response, null);
    assert.deepEqual(await deviceRow('dev-1'), {
      hwid: 'dev-1',
      user_id: 'dev-1',
      device_type: 3,
      push_token: 'fcm-token',
      language: 'pt-BR',
      timezone: -10800,
    });
  });

  it('round-trips all seven tag types through setTags and getTags', async () => {
    assert.deepEqual(await ok('addTag', { application: APP, tag: { name: 'LastSeen', type: 4 } }), { result: true });
    assert.deepEqual(await ok('addTag', { application: APP, name: 'AppVersion', type: 7 }), { result: true });
    await ok('registerDevice', { application: APP, hwid: 'tags-1', device_type: 1, tags: { Level: 7 } });
    await ok('setTags', {
      application: APP,
      hwid: 'tags-1',
      tags: {
        Level: 42,
        City: 'London',
        Interests: ['music', 'art'],
        LastSeen: '2024-10-02 22:11',
        Premium: true,
        Balance: 19.95,
        AppVersion: '1.10.2',
      },
    });
    assert.deepEqual(await ok('getTags', { application: APP, hwid: 'tags-1' }), {
      result: {
        Level: 42,
        City: 'London',
        Interests: ['art', 'music'],
        LastSeen: '2024-10-02 22:11',
        Premium: true,
        Balance: 19.95,
        AppVersion: '1.10.2',
      },
    });
    const listed = await ok('listTags', { application: APP });
    assert.deepEqual(
      listed.tags.filter((t: { name: string }) =>
        ['Level', 'City', 'Interests', 'LastSeen', 'Premium', 'Balance', 'AppVersion'].includes(t.name),
      ),
      [
        { name: 'AppVersion', type: 7 },
        { name: 'Balance', type: 6 },
        { name: 'City', type: 2 },
        { name: 'Interests', type: 3 },
        { name: 'LastSeen', type: 4 },
        { name: 'Level', type: 1 },
        { name: 'Premium', type: 5 },
      ],
    );
  });

  it('accepts the other spellings of typed values and answers with the canonical ones', async () => {
    await ok('setTags', {
      application: APP,
      hwid: 'tags-1',
      tags: { LastSeen: 1727907060, Premium: 'false', Level: '43', AppVersion: '2.0.0.0' },
    });
    const { result } = await ok('getTags', { application: APP, hwid: 'tags-1' });
    assert.equal(result.LastSeen, '2024-10-02 22:11');
    assert.equal(result.Premium, false);
    assert.equal(result.Level, 43);
    assert.equal(result.AppVersion, '2');
  });

  it('removes a tag set to null and edits a List with append and remove operations', async () => {
    await ok('setTags', {
      application: APP,
      hwid: 'tags-1',
      tags: { City: null, Interests: { operation: 'append', value: ['sport', 'art'] } },
    });
    await ok('setTags', { application: APP, hwid: 'tags-1', tags: { Interests: { operation: 'remove', value: ['music'] } } });
    const { result } = await ok('getTags', { application: APP, hwid: 'tags-1' });
    assert.equal('City' in result, false);
    assert.deepEqual(result.Interests, ['art', 'sport']);
  });

  it('gives one user several devices and reads and writes the user through any of them', async () => {
    await ok('registerDevice', { application: APP, hwid: 'alex-phone', device_type: 1, userId: 'alex', tags: { Device: 'phone' } });
    await ok('registerDevice', { application: APP, hwid: 'alex-browser', device_type: 11 });
    assert.equal((await deviceRow('alex-browser'))?.user_id, 'alex-browser', 'a device without userId is its own user');
    await ok('registerUser', { application: APP, hwid: 'alex-browser', userId: 'alex' });
    // registerUser before registerDevice creates the device when its type is known (Pushwoosh allows this order).
    await ok('registerUser', { application: APP, hwid: 'alex@example.com', userId: 'alex', device_type: 14, tz_offset: 3600 });

    const owned = await ctx.store.backend.db
      .selectFrom('devices')
      .select(['hwid', 'timezone'])
      .where('user_id', '=', 'alex')
      .orderBy('hwid')
      .execute();
    assert.deepEqual(owned, [
      { hwid: 'alex-browser', timezone: null },
      { hwid: 'alex-phone', timezone: null },
      { hwid: 'alex@example.com', timezone: 3600 },
    ]);

    await ok('setTags', { application: APP, userId: 'alex', tags: { Plan: 'gold' } });
    for (const hwid of ['alex-phone', 'alex-browser', 'alex@example.com']) {
      assert.equal((await ok('getTags', { application: APP, hwid })).result.Plan, 'gold', hwid);
    }
    assert.deepEqual((await ok('getTags', { application: APP, userId: 'alex' })).result, { Device: 'phone', Plan: 'gold' });

    await ok('registerUser', { application: APP, hwid: 'alex-browser', userId: '' });
    assert.equal((await deviceRow('alex-browser'))?.user_id, 'alex-browser', 'an empty userId makes the device its own user again');
  });

  it('unregisters a device by removing its push token while keeping its user and tags', async () => {
    await ok('registerDevice', {
      application: APP,
      hwid: 'leaving',
      device_type: 1,
      push_token: 'apns',
      userId: 'lea',
      tags: { Plan: 'free' },
    });
    await ok('unregisterDevice', { application: APP, hwid: 'leaving' });
    const row = await deviceRow('leaving');
    assert.equal(row?.push_token, null);
    assert.equal(row?.user_id, 'lea');
    assert.deepEqual((await ok('getTags', { application: APP, hwid: 'leaving' })).result, { Plan: 'free' });
  });

  it('records events with their attributes and time, for a device or for a user', async () => {
    const byDevice = await ok('postEvent', {
      application: APP,
      hwid: 'alex-phone',
      event: 'Purchase',
      attributes: { sku: 'A1', amount: 9.5, gift: false, tags: ['x', 'y'], coupon: null },
      timestampUTC: 1_700_000_000,
    });
    assert.match(byDevice.code, /^\d+$/);
    await ok('postEvent', { application: APP, userId: 'alex', event: 'Login', attributes: {} });
    const before = Date.now();
    await ok('postEvent', { application: APP, hwid: 'dev-1', event: 'Open' });

    const rows = await ctx.store.backend.db
      .selectFrom('events')
      .select(['id', 'device_id', 'user_id', 'name', 'attributes', 'occurred_at'])
      .orderBy('id')
      .execute();
    assert.equal(rows.length, 3);
    const [purchase, login, open] = rows;
    assert.equal(String(purchase?.id), byDevice.code);
    assert.equal(purchase?.user_id, 'alex');
    assert.notEqual(purchase?.device_id, null);
    assert.deepEqual(JSON.parse(purchase?.attributes ?? ''), { sku: 'A1', amount: 9.5, gift: false, tags: ['x', 'y'], coupon: null });
    assert.equal(purchase?.occurred_at, 1_700_000_000_000);
    assert.equal(login?.user_id, 'alex');
    assert.equal(login?.device_id, null);
    assert.equal(open?.user_id, 'dev-1');
    assert.equal(open?.attributes, '{}');
    assert.ok((open?.occurred_at ?? 0) >= before, 'without timestampUTC the event happened now');
  });

  it('accepts addTag again for the same type', async () => {
    assert.deepEqual(await ok('addTag', { application: APP, tag: { name: 'LastSeen', type: 4 } }), { result: true });
  });
});

describeEachBackend('Device API: tokens and applications', (dialect) => {
  let ctx: TestContext;
  let otherAppCode: string;
  const DEVICE_TOKEN_A = 'device-token-for-app-a';
  const API_TOKEN_B = 'api-token-for-app-b';

  before(async () => {
    ctx = await startTestApp(dialect);
    const appA = await ctx.store.applications.findByCode(APP);
    const appB = await ctx.store.applications.create('OTHER-00002', 'tenant B');
    otherAppCode = appB.code;
    await ctx.store.applications.createToken(DEVICE_TOKEN_A, 'device', 'sdk A', [appA!.id]);
    await ctx.store.applications.createToken(API_TOKEN_B, 'api', 'server B', [appB.id]);
    const asB = await call(
      'registerDevice',
      { application: otherAppCode, hwid: 'b-device', device_type: 1, tags: { Secret: 'b' } },
      `Api ${API_TOKEN_B}`,
    );
    assert.equal(asB.status, 200);
  });
  after(() => ctx.close());

  async function call(method: string, request: Record<string, unknown>, authorization: string) {
    const res = await ctx.request({ method: 'POST', url: `/json/1.3/${method}`, payload: { request }, headers: { authorization } });
    return { status: res.statusCode, body: res.json<{ status_code: number; status_message: string; response: unknown }>() };
  }

  async function bDevice() {
    return ctx.store.backend.db.selectFrom('devices').select(['hwid', 'user_id', 'push_token']).where('hwid', '=', 'b-device').execute();
  }

  it('accepts a device token with the Token scheme and a server token with the Api scheme', async () => {
    const asDevice = await call('registerDevice', { application: APP, hwid: 'a-device', device_type: 3 }, `Token ${DEVICE_TOKEN_A}`);
    assert.equal(asDevice.status, 200);
    const asServer = await call('getTags', { application: otherAppCode, hwid: 'b-device' }, `Api ${API_TOKEN_B}`);
    assert.deepEqual(asServer.body.response, { result: { Secret: 'b' } });
  });

  it('refuses a token under the wrong scheme, an unknown token and a missing header with 401 in the envelope', async () => {
    for (const authorization of [`Api ${DEVICE_TOKEN_A}`, `Token ${API_TOKEN_B}`, 'Token nope', 'Bearer x', '']) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/json/1.3/getTags',
        payload: { request: { application: APP, hwid: 'a-device' } },
        headers: authorization ? { authorization } : {},
      });
      assert.equal(res.statusCode, 401, authorization);
      const body = res.json();
      assert.equal(body.status_code, 401);
      assert.equal(body.code, 401);
      assert.equal(body.status_message, body.message);
      assert.equal(body.response, null);
    }
  });

  it("cannot read or write another application's devices, nor tell whether that application exists", async () => {
    const before = await bDevice();
    const requests: [string, Record<string, unknown>][] = [
      ['registerDevice', { hwid: 'b-device', device_type: 1, userId: 'hijack', tags: { Secret: 'a' } }],
      ['unregisterDevice', { hwid: 'b-device' }],
      ['registerUser', { hwid: 'b-device', userId: 'hijack' }],
      ['setTags', { hwid: 'b-device', tags: { Secret: 'a' } }],
      ['getTags', { hwid: 'b-device' }],
      ['postEvent', { hwid: 'b-device', event: 'X' }],
      ['addTag', { tag: { name: 'Injected', type: 2 } }],
      ['listTags', {}],
    ];
    for (const [method, fields] of requests) {
      const existing = await call(method, { application: otherAppCode, ...fields }, `Token ${DEVICE_TOKEN_A}`);
      const missing = await call(method, { application: 'NOAPP-00000', ...fields }, `Token ${DEVICE_TOKEN_A}`);
      assert.equal(existing.status, 400, method);
      assert.equal(existing.body.status_code, 210, method);
      assert.match(existing.body.status_message, /^request\.application /, method);
      assert.equal(
        JSON.stringify(existing).replaceAll(otherAppCode, 'CODE'),
        JSON.stringify(missing).replaceAll('NOAPP-00000', 'CODE'),
        `${method}: a granted-elsewhere application answers exactly like a missing one`,
      );
    }
    assert.deepEqual(await bDevice(), before);
    const injected = await ctx.store.backend.db.selectFrom('tag_definitions').select('id').where('name', '=', 'Injected').execute();
    assert.deepEqual(injected, []);
    const events = await ctx.store.backend.db.selectFrom('events').select('id').execute();
    assert.deepEqual(events, []);
  });

  it("does not find another application's device through its own application", async () => {
    const res = await call('getTags', { application: APP, hwid: 'b-device' }, `Token ${DEVICE_TOKEN_A}`);
    assert.equal(res.status, 400);
    assert.match(res.body.status_message, /request\.hwid "b-device" is not a registered device/);
  });
});
