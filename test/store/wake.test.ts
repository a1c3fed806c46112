import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import type { Dialect } from '../../src/store/backend.js';
import { Store } from '../../src/store/store.js';
import { Wake } from '../../src/store/wake.js';
import { createTestDatabase, describeEachBackend, describePostgres, POSTGRES_URL, type TestDatabase } from '../support/backends.js';

/** Resolves on the listener's next call. */
function nextCall(): { listener: () => void; called: () => Promise<void> } {
  let waiting: (() => void) | undefined;
  let pending = 0;
  return {
    listener: () => {
      pending++;
      waiting?.();
    },
    called: () =>
      new Promise<void>((resolve) => {
        if (pending > 0) {
          pending--;
          resolve();
          return;
        }
        waiting = () => {
          waiting = undefined;
          pending--;
          resolve();
        };
      }),
  };
}

interface Suite {
  store: Store;
  /** On a channel of its own: on Postgres every process sharing the server hears a channel's NOTIFYs. */
  wake: Wake;
}

/** A migrated store for the suite's tests, opened before them and dropped after. */
function suiteStore(dialect: Dialect): Suite {
  const suite = {} as Suite;
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase(dialect);
    suite.store = Store.open(database.url);
    await suite.store.migrate();
    suite.wake = new Wake(suite.store.backend, `journeyd_test_${randomBytes(4).toString('hex')}`);
  });
  after(async () => {
    await suite.store.close();
    await database.drop();
  });
  return suite;
}

describeEachBackend('wake-up signal', (dialect) => {
  const suite = suiteStore(dialect);

  it('calls its listeners after an announcement, and not once they stopped listening', async () => {
    const { listener, called } = nextCall();
    let stoppedHeard = 0;
    const stopped = await suite.wake.listen(() => stoppedHeard++);
    const stop = await suite.wake.listen(listener);
    try {
      await stopped();
      await suite.wake.announce();
      await called();
      // The stopped listener had its handler removed before the announcement, so it can never hear it.
      assert.equal(stoppedHeard, 0);
    } finally {
      await stop();
    }
  });
});

describePostgres('wake-up signal over LISTEN/NOTIFY', () => {
  const suite = suiteStore('postgres');

  it('announces only when the transaction commits', async () => {
    let heard = 0;
    const { listener, called } = nextCall();
    const stop = await suite.wake.listen(() => {
      heard++;
      listener();
    });
    try {
      await suite.store.backend.db
        .transaction()
        .execute(async (trx) => {
          await suite.wake.announce(trx);
          throw new Error('roll back');
        })
        .catch(() => {});
      await suite.store.backend.db.transaction().execute((trx) => suite.wake.announce(trx));
      await called();
      // NOTIFYs arrive in commit order on the one connection: the rolled-back one would have come first.
      assert.equal(heard, 1);
    } finally {
      await stop();
    }
  });

  // The reconnection comes a second after the loss; the timeout only turns a missing one into a failure.
  it('reports a lost connection, reconnects, and calls the listener for what it may have missed', { timeout: 10_000 }, async (t) => {
    const { listener, called } = nextCall();
    let lost: (error: Error) => void = () => {};
    const connectionLost = new Promise<Error>((resolve) => (lost = resolve));
    const stop = await suite.wake.listen(listener, lost);
    // Hooks, unlike a finally, also run after a timeout: the pool cannot close while the listener holds a connection.
    t.after(stop);
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    t.after(() => admin.end());
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`, [`LISTEN ${suite.wake.channel}`]);
    assert.ok((await connectionLost) instanceof Error);
    await called();
    await suite.wake.announce();
    await called();
  });

  it('names its channel for statements that notify in their own SQL', async () => {
    const { listener, called } = nextCall();
    const stop = await suite.wake.listen(listener);
    try {
      await sql`SELECT pg_notify(${suite.wake.channel}, '')`.execute(suite.store.backend.db);
      await called();
    } finally {
      await stop();
    }
  });
});
