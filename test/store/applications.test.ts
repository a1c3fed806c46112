import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import { GRANT_CACHE_TTL_MS } from '../../src/store/applications/index.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { waitUntil } from '../support/wait-until.js';

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

  it('revokes a token by its value or its id, with its grants, and lists what is left without the tokens themselves', async () => {
    const app = await store.applications.create('REVK0-00001', 'revoke');
    const other = await store.applications.create('REVK0-00002', 'revoke too');
    const byValue = await store.applications.createToken('revoke-by-value', 'api', 'ci', [app.id, other.id]);
    const byId = await store.applications.createToken('revoke-by-id', 'device', 'sdk', [app.id]);
    const listed = (await store.applications.listTokens()).filter((t) => t.id === byValue || t.id === byId);
    assert.deepEqual(
      listed.map(({ id, kind, name, applicationCodes }) => ({ id, kind, name, applicationCodes })),
      [
        { id: byValue, kind: 'api', name: 'ci', applicationCodes: ['REVK0-00001', 'REVK0-00002'] },
        { id: byId, kind: 'device', name: 'sdk', applicationCodes: ['REVK0-00001'] },
      ],
    );

    assert.equal(await store.applications.revokeToken({ token: 'revoke-by-value' }), byValue);
    assert.equal(await store.applications.revokeToken({ id: byId }), byId);
    assert.equal(await store.applications.revokeToken({ id: byId }), undefined, 'a token is revoked once');
    assert.equal(await store.applications.revokeToken({ token: 'never-issued' }), undefined);
    const left = await store.backend.db
      .selectFrom('token_applications')
      .select('token_id')
      .where('token_id', 'in', [byValue, byId])
      .execute();
    assert.deepEqual(left, []);
    assert.ok((await store.applications.listTokens()).every((t) => t.id !== byValue && t.id !== byId));
  });

  it('rotates the tokens of one kind of an application: the new one is the only one of that kind acting on it', async () => {
    const app = await store.applications.create('ROTA0-00001', 'rotate');
    const other = await store.applications.create('ROTA0-00002', 'rotate beside');
    const sole = await store.applications.createToken('rotate-sole', 'api', 'old', [app.id]);
    const shared = await store.applications.createToken('rotate-shared', 'api', 'old shared', [app.id, other.id]);
    const device = await store.applications.createToken('rotate-device', 'device', 'sdk', [app.id]);

    const { tokenId, revoked } = await store.applications.rotateToken(app.id, 'api', 'rotate-new', 'new');
    assert.equal(revoked, 2);
    const tokens = new Map((await store.applications.listTokens()).map((t) => [t.id, t.applicationCodes]));
    assert.equal(tokens.has(sole), false, 'a token left with no grant is deleted');
    assert.deepEqual(tokens.get(shared), ['ROTA0-00002'], 'a shared token keeps its other applications');
    assert.deepEqual(tokens.get(device), ['ROTA0-00001'], 'tokens of the other kind are left alone');
    assert.deepEqual(tokens.get(tokenId), ['ROTA0-00001']);
  });

  it('re-reads a grant it cached once GRANT_CACHE_TTL_MS has passed, so another process revoking it is seen', async () => {
    const app = await store.applications.create('TTL00-00001', 'ttl');
    await store.applications.createToken('cached-then-revoked', 'api', 'ci', [app.id]);
    const elsewhere = Store.open(database.url);
    try {
      assert.ok(await elsewhere.applications.authenticate('cached-then-revoked'));
      await store.applications.revokeToken({ token: 'cached-then-revoked' });
      // The bound a busy machine meets: the TTL and then some; a grant cached for ever never turns undefined.
      await waitUntil(
        'the other store to refuse the revoked token',
        async () => (await elsewhere.applications.authenticate('cached-then-revoked')) === undefined,
        GRANT_CACHE_TTL_MS + 10_000,
      );
    } finally {
      await elsewhere.close();
    }
  });

  it('applies migrations once and reports them current', async () => {
    assert.deepEqual(await store.migrate(), []);
    assert.equal(await store.migrationsAreCurrent(), true);
  });
});
