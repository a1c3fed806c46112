import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { InvalidTagError, TagType } from '../../src/domain/tags.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';

describeEachBackend('devices, users, tags and events', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let appId: number;
  let otherAppId: number;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
    appId = (await store.applications.create('DEVST-00001', 'devices')).id;
    otherAppId = (await store.applications.create('DEVST-00002', 'other')).id;
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  async function tagRows(hwid: string, tag: string) {
    return store.backend.db
      .selectFrom('device_tags')
      .innerJoin('devices', 'devices.id', 'device_tags.device_id')
      .innerJoin('tag_definitions', 'tag_definitions.id', 'device_tags.tag_id')
      .select(['int_value', 'real_value', 'text_value'])
      .where('devices.application_id', '=', appId)
      .where('devices.hwid', '=', hwid)
      .where('tag_definitions.name', '=', tag)
      .orderBy('text_value')
      .execute();
  }

  it('registers a device as its own user and updates only the fields sent again', async () => {
    const created = await store.devices.register(appId, { hwid: 'reg-1', deviceType: 3, pushToken: 'tok', language: 'en', timezone: 3600 });
    assert.equal(created.userId, 'reg-1');
    await store.devices.register(appId, { hwid: 'reg-1', deviceType: 1, language: 'fr' });
    const updated = await store.devices.find(appId, 'reg-1');
    assert.equal(updated?.deviceType, 1);
    assert.equal(updated?.language, 'fr');
    assert.equal(updated?.pushToken, 'tok', 'an absent push_token keeps the stored one');
    assert.equal(updated?.timezone, 3600);
    assert.equal(updated?.userId, 'reg-1');
    await store.devices.register(appId, { hwid: 'reg-1', deviceType: 1, pushToken: '' });
    assert.equal((await store.devices.find(appId, 'reg-1'))?.pushToken, null, 'an empty push_token means none');
  });

  it('keeps devices of different applications apart', async () => {
    await store.devices.register(otherAppId, { hwid: 'reg-1', deviceType: 3, userId: 'someone' });
    assert.equal((await store.devices.find(appId, 'reg-1'))?.userId, 'reg-1');
    assert.equal((await store.devices.find(otherAppId, 'reg-1'))?.userId, 'someone');
  });

  it('unregisters by clearing the push token and keeping user and tags', async () => {
    await store.devices.register(appId, { hwid: 'unreg-1', deviceType: 1, pushToken: 't', userId: 'u-unreg', tags: { Plan: 'gold' } });
    assert.equal(await store.devices.unregister(appId, 'unreg-1'), true);
    const device = await store.devices.find(appId, 'unreg-1');
    assert.equal(device?.pushToken, null);
    assert.equal(device?.userId, 'u-unreg');
    assert.deepEqual(await store.devices.getTags(appId, { hwid: 'unreg-1' }), { Plan: 'gold' });
    assert.equal(await store.devices.unregister(appId, 'no-such-device'), false);
  });

  it('gives one user several devices, and moves a device back to being its own user', async () => {
    await store.devices.register(appId, { hwid: 'multi-1', deviceType: 1 });
    await store.devices.register(appId, { hwid: 'multi-2', deviceType: 3 });
    assert.equal(await store.devices.assignUser(appId, { hwid: 'multi-1', userId: 'alex' }), 'assigned');
    assert.equal(await store.devices.assignUser(appId, { hwid: 'multi-2', userId: 'alex' }), 'assigned');
    assert.equal(await store.devices.assignUser(appId, { hwid: 'multi-3', userId: 'alex', deviceType: 14 }), 'assigned');
    assert.deepEqual((await store.devices.findByUser(appId, 'alex')).map((d) => d.hwid).sort(), ['multi-1', 'multi-2', 'multi-3']);
    assert.equal(await store.devices.assignUser(appId, { hwid: 'multi-3', userId: '' }), 'assigned');
    assert.equal((await store.devices.find(appId, 'multi-3'))?.userId, 'multi-3');
    assert.equal(await store.devices.assignUser(appId, { hwid: 'never-registered', userId: 'alex' }), 'unknown_device');
    assert.equal(await store.devices.find(appId, 'never-registered'), undefined);
  });

  it('stores each of the seven tag types in exactly one value column and decodes it back', async () => {
    await store.tags.declare(appId, 'Birthday', TagType.Date);
    await store.tags.declare(appId, 'AppVersion', TagType.Version);
    await store.devices.register(appId, {
      hwid: 'types-1',
      deviceType: 1,
      tags: {
        Level: 42,
        City: 'London',
        Interests: ['music', 'art', 'music'],
        Birthday: '2024-10-02 22:11',
        Premium: true,
        Balance: 19.95,
        AppVersion: '1.10.2',
      },
    });
    assert.deepEqual(await store.devices.getTags(appId, { hwid: 'types-1' }), {
      Level: 42,
      City: 'London',
      Interests: ['art', 'music'],
      Birthday: '2024-10-02 22:11',
      Premium: true,
      Balance: 19.95,
      AppVersion: '1.10.2',
    });
    const types = new Map((await store.tags.list(appId)).map((d) => [d.name, d.type]));
    assert.equal(types.get('Level'), TagType.Integer);
    assert.equal(types.get('City'), TagType.String);
    assert.equal(types.get('Interests'), TagType.List);
    assert.equal(types.get('Premium'), TagType.Boolean);
    assert.equal(types.get('Balance'), TagType.Decimal);

    assert.deepEqual(await tagRows('types-1', 'Level'), [{ int_value: 42, real_value: null, text_value: null }]);
    assert.deepEqual(await tagRows('types-1', 'Balance'), [{ int_value: null, real_value: 19.95, text_value: null }]);
    assert.deepEqual(await tagRows('types-1', 'Premium'), [{ int_value: 1, real_value: null, text_value: null }]);
    assert.deepEqual(await tagRows('types-1', 'Birthday'), [
      { int_value: Date.UTC(2024, 9, 2, 22, 11) / 1000, real_value: null, text_value: null },
    ]);
    assert.deepEqual(await tagRows('types-1', 'Interests'), [
      { int_value: null, real_value: null, text_value: 'art' },
      { int_value: null, real_value: null, text_value: 'music' },
    ]);
    const [version] = await tagRows('types-1', 'AppVersion');
    assert.equal(version?.text_value, '0000000001.0000000010.0000000002.0000000000');
  });

  it('replaces a tag by deleting its rows, removes it with null, and edits List elements in place', async () => {
    await store.devices.register(appId, { hwid: 'edit-1', deviceType: 1, tags: { Colors: ['red', 'green', 'blue'], Size: 'M' } });
    await store.devices.setTags(appId, { hwid: 'edit-1' }, { Colors: ['black'] });
    assert.deepEqual(
      (await tagRows('edit-1', 'Colors')).map((r) => r.text_value),
      ['black'],
    );

    await store.devices.setTags(appId, { hwid: 'edit-1' }, { Colors: { operation: 'append', value: ['white', 'black'] } });
    assert.deepEqual(
      (await tagRows('edit-1', 'Colors')).map((r) => r.text_value),
      ['black', 'white'],
    );
    await store.devices.setTags(appId, { hwid: 'edit-1' }, { Colors: { operation: 'remove', value: ['black', 'pink'] } });
    assert.deepEqual(
      (await tagRows('edit-1', 'Colors')).map((r) => r.text_value),
      ['white'],
    );

    await store.devices.setTags(appId, { hwid: 'edit-1' }, { Size: null, NeverDeclared: null });
    assert.deepEqual(await store.devices.getTags(appId, { hwid: 'edit-1' }), { Colors: ['white'] });
    assert.equal((await store.tags.find(appId, ['NeverDeclared'])).size, 0, 'removing an undeclared tag declares nothing');
  });

  it('writes nothing when one tag of a registration is invalid', async () => {
    await store.devices.register(appId, { hwid: 'seed-int', deviceType: 1, tags: { Score: 1 } });
    await assert.rejects(
      store.devices.register(appId, { hwid: 'atomic-1', deviceType: 1, tags: { FreshTag: 'ok', Score: 'high' } }),
      (error: unknown) => error instanceof InvalidTagError && error.tagName === 'Score',
    );
    assert.equal(await store.devices.find(appId, 'atomic-1'), undefined);
    assert.equal((await store.tags.find(appId, ['FreshTag'])).size, 0);
  });

  it('sets tags on every device of a user and reads them back with the latest device winning', async () => {
    await store.devices.register(appId, { hwid: 'fam-1', deviceType: 1, userId: 'fam', tags: { Device: 'phone', OnlyOld: 1 } });
    await store.devices.register(appId, { hwid: 'fam-2', deviceType: 11, userId: 'fam', tags: { Device: 'browser' } });
    assert.equal(await store.devices.setTags(appId, { userId: 'fam' }, { Tier: 'vip' }), true);
    assert.deepEqual(await store.devices.getTags(appId, { hwid: 'fam-1' }), { Device: 'phone', OnlyOld: 1, Tier: 'vip' });
    await store.devices.setTags(appId, { hwid: 'fam-2' }, { Device: 'laptop' });
    assert.deepEqual(await store.devices.getTags(appId, { userId: 'fam' }), { Device: 'laptop', OnlyOld: 1, Tier: 'vip' });
    assert.equal(await store.devices.setTags(appId, { userId: 'nobody' }, { Tier: 'x' }), false);
    assert.equal(await store.devices.getTags(appId, { userId: 'nobody' }), undefined);
  });

  it('keeps one value per scalar tag when writes to one device race', async () => {
    await store.devices.register(appId, { hwid: 'race-1', deviceType: 1, userId: 'racer', tags: { Counter: 0, Picks: ['none'] } });
    const writes = Array.from({ length: 24 }, (_, i) =>
      i % 3 === 0
        ? store.devices.register(appId, { hwid: 'race-1', deviceType: 1, tags: { Counter: i, Picks: [`p${i}`] } })
        : i % 3 === 1
          ? store.devices.setTags(appId, { hwid: 'race-1' }, { Counter: i, Picks: [`p${i}`] })
          : store.devices.setTags(appId, { userId: 'racer' }, { Counter: i, Picks: [`p${i}`] }),
    );
    await Promise.all(writes);
    const counter = await tagRows('race-1', 'Counter');
    const picks = await tagRows('race-1', 'Picks');
    assert.equal(counter.length, 1, `one Counter row, got ${JSON.stringify(counter)}`);
    assert.equal(picks.length, 1, `one Picks element, got ${JSON.stringify(picks)}`);
    assert.equal(picks[0]?.text_value, `p${counter[0]?.int_value}`, 'both tags come from the same, last, write');
  });

  it('declares the same new tags once when concurrent requests introduce them', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `Fresh${i}`);
    const writes = Array.from({ length: 12 }, (_, i) => {
      const order = i % 2 === 0 ? names : [...names].reverse();
      return store.devices.register(appId, { hwid: `fresh-${i}`, deviceType: 1, tags: Object.fromEntries(order.map((n) => [n, i])) });
    });
    await Promise.all(writes);
    assert.equal((await store.tags.find(appId, names)).size, names.length);
    assert.deepEqual(await store.devices.getTags(appId, { hwid: 'fresh-5' }), Object.fromEntries(names.map((n) => [n, 5])));
  });

  it('resolves a batch of tag names, declaring only the missing ones with inferred types', async () => {
    const existing = await store.tags.declare(appId, 'Shared', TagType.String);
    const samples = new Map<string, unknown>([
      ['Shared', 5],
      ['BatchInt', 7],
      ['BatchList', { operation: 'append', value: ['x'] }],
      ['BatchBool', false],
    ]);
    const [first, second] = await Promise.all([store.tags.resolve(appId, samples), store.tags.resolve(appId, samples)]);
    assert.equal(first.get('Shared')?.id, existing.definition.id);
    assert.equal(first.get('Shared')?.type, TagType.String, 'a declared tag keeps its type');
    assert.equal(first.get('BatchInt')?.type, TagType.Integer);
    assert.equal(first.get('BatchList')?.type, TagType.List);
    assert.equal(first.get('BatchBool')?.type, TagType.Boolean);
    assert.deepEqual([...first.entries()].sort(), [...second.entries()].sort(), 'concurrent resolves agree');
    await assert.rejects(store.tags.resolve(appId, new Map([['', 1]])), InvalidTagError);
  });

  it('declares a tag once: again with its type is unchanged, with another type a conflict', async () => {
    assert.equal((await store.tags.declare(appId, 'Declared', TagType.Version)).outcome, 'declared');
    assert.equal((await store.tags.declare(appId, 'Declared', TagType.Version)).outcome, 'unchanged');
    const conflict = await store.tags.declare(appId, 'Declared', TagType.Integer);
    assert.equal(conflict.outcome, 'conflict');
    assert.equal(conflict.definition.type, TagType.Version);
  });

  it('records an event for a device (as its user) or for a user, and nothing for unknown subjects', async () => {
    await store.devices.register(appId, { hwid: 'ev-1', deviceType: 1, userId: 'ev-user' });
    const byDevice = await store.events.record(appId, {
      subject: { hwid: 'ev-1' },
      name: 'Purchase',
      attributes: { sku: 'A1', amount: 9.5 },
      occurredAt: 1_700_000_000_000,
    });
    assert.ok(byDevice.recorded);
    assert.equal(byDevice.userId, 'ev-user');
    const byUser = await store.events.record(appId, { subject: { userId: 'ev-user' }, name: 'Login', attributes: {}, occurredAt: 1 });
    assert.ok(byUser.recorded);
    assert.equal(byUser.deviceId, null);

    assert.deepEqual(await store.events.record(appId, { subject: { hwid: 'nope' }, name: 'X', attributes: {}, occurredAt: 1 }), {
      recorded: false,
      unknown: 'hwid',
    });
    assert.deepEqual(await store.events.record(appId, { subject: { userId: 'nope' }, name: 'X', attributes: {}, occurredAt: 1 }), {
      recorded: false,
      unknown: 'userId',
    });
    const rows = await store.backend.db
      .selectFrom('events')
      .select(['user_id', 'name', 'attributes', 'occurred_at'])
      .where('application_id', '=', appId)
      .orderBy('id')
      .execute();
    assert.deepEqual(rows, [
      { user_id: 'ev-user', name: 'Purchase', attributes: '{"sku":"A1","amount":9.5}', occurred_at: 1_700_000_000_000 },
      { user_id: 'ev-user', name: 'Login', attributes: '{}', occurred_at: 1 },
    ]);
  });
});
