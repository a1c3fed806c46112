import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { randomToken } from '../../src/domain/codes.js';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import { GRANT_CACHE_TTL_MS } from '../../src/store/applications/index.js';
import { describeDatabase } from '../../src/store/database-url.js';
import { Store } from '../../src/store/store.js';
import { TEST_API_TOKEN, TEST_APP_CODE } from '../support/app.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { runJourneydCli } from '../support/journeyd-cli.js';
import { killJourneyd, startJourneyd, type JourneydProcess } from '../support/journeyd-process.js';
import { waitUntil } from '../support/wait-until.js';

/** Waits for the revocation to reach every process: the documented bound, plus what a busy machine needs for the requests. */
const REFUSED_WITHIN_MS = GRANT_CACHE_TTL_MS + 15_000;

describeEachBackend('journeyd tokens revoke and rotate, two API processes on one database', (dialect) => {
  let database: TestDatabase;
  const servers: JourneydProcess[] = [];
  const revocable = randomToken();

  before(async () => {
    database = await createTestDatabase(dialect);
    const store = Store.open(database.url);
    try {
      await store.migrate();
      await bootstrapIfEmpty(store, TEST_APP_CODE, TEST_API_TOKEN);
      const application = await store.applications.findByCode(TEST_APP_CODE);
      assert.ok(application);
      await store.applications.createToken(revocable, 'api', 'to revoke', [application.id]);
    } finally {
      await store.close();
    }
    servers.push(await startJourneyd(database.url, {}, 'api'), await startJourneyd(database.url, {}, 'api'));
  });
  after(async () => {
    await Promise.all(servers.map(killJourneyd));
    await database.drop();
  });

  /** The status each server answers `GET /api/journey` with this token. */
  const statuses = (token: string) =>
    Promise.all(
      servers.map(async (server) => (await fetch(`${server.url}/api/journey`, { headers: { authorization: `Api ${token}` } })).status),
    );

  /** Resolves once both servers refuse the token (401), with the milliseconds it took. */
  async function refusedByBoth(token: string): Promise<number> {
    const since = Date.now();
    await waitUntil('both servers to refuse the token', async () => (await statuses(token)).every((s) => s === 401), REFUSED_WITHIN_MS);
    return Date.now() - since;
  }

  it('revoke: both processes answer 401 to the token within GRANT_CACHE_TTL_MS, though each had it cached', async (t) => {
    assert.deepEqual(await statuses(revocable), [200, 200]);
    const revoke = await runJourneydCli(database.url, ['tokens', 'revoke', revocable]);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, /^revoked token \d+\n$/);
    t.diagnostic(`refused by both ${await refusedByBoth(revocable)} ms after the CLI exited`);

    const again = await runJourneydCli(database.url, ['tokens', 'revoke', revocable]);
    assert.deepEqual([again.code, again.stderr], [1, `journeyd: database ${describeDatabase(database.url)}\njourneyd: no such token\n`]);
  });

  it('rotate: prints a new token both processes take at once; the old one is refused within the bound', async (t) => {
    assert.deepEqual(await statuses(TEST_API_TOKEN), [200, 200]);
    const rotate = await runJourneydCli(database.url, ['tokens', 'rotate', TEST_APP_CODE]);
    assert.equal(rotate.code, 0, rotate.stderr);
    const token = rotate.stdout.trim();
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.match(rotate.stderr, new RegExp(`1 earlier api token\\(s\\) of ${TEST_APP_CODE} no longer act on it`));
    assert.deepEqual(await statuses(token), [200, 200]);
    t.diagnostic(`old token refused by both ${await refusedByBoth(TEST_API_TOKEN)} ms after the CLI exited`);
    assert.deepEqual(await statuses(token), [200, 200]);

    const list = await runJourneydCli(database.url, ['tokens', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^\\d+\\tapi\\tcli\\t${TEST_APP_CODE}\\t\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`, 'm'));
    assert.ok(!list.stdout.includes(token), 'tokens list never shows a token');
  });
});
