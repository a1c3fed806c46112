import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';

describeEachBackend('applications and tokens', (dialect) => {
  let database: TestDatabase;
  let store: Store;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  it('bootstraps one application and token only on an empty database', async () => {
    const first = await bootstrapIfEmpty(store, 'BOOT0-00001', 'secret-1');
    assert.deepEqual(first, { applicationCode: 'BOOT0-00001', apiToken: 'secret-1' });
    assert.equal(await bootstrapIfEmpty(store, 'BOOT0-00002', 'secret-2'), undefined);
    assert.equal(await store.applications.count(), 1);
  });

  it('stores tokens hashed and authenticates them with their grants', async () => {
    const app = await store.applications.create('AUTH0-00001', 'auth');
    await store.applications.createToken('device-secret', 'device', 'sdk', [app.id]);
    const grant = await store.applications.authenticate('device-secret');
    assert.equal(grant?.kind, 'device');
    assert.deepEqual([...(grant?.applicationIds ?? [])], [app.id]);
    assert.equal(await store.applications.authenticate('nope'), undefined);
    const rows = await store.backend.db.selectFrom('tokens').select('token_hash').execute();
    assert.ok(rows.every((r) => !r.token_hash.includes('secret')));
  });

  it('applies migrations once and reports them current', async () => {
    assert.deepEqual(await store.migrate(), []);
    assert.equal(await store.migrationsAreCurrent(), true);
  });
});
