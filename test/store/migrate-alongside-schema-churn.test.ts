import assert from 'node:assert/strict';
import { it } from 'node:test';
import pg from 'pg';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describePostgres, POSTGRES_URL } from '../support/backends.js';

const MIGRATIONS = 8;

describePostgres('migrating while other clients create and drop schemas', () => {
  it('migrates every fresh schema (Kysely introspection of all schemas failed 10 times in 15)', async () => {
    let stop = false;
    const churn = (async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        for (let i = 0; !stop; i++) {
          const name = `churn_${process.pid}_${i}`;
          await client.query(`CREATE SCHEMA ${name}`);
          await client.query(`CREATE TABLE ${name}.t (id int)`);
          await client.query(`DROP SCHEMA ${name} CASCADE`);
        }
      } finally {
        await client.end();
      }
    })();
    const failures: string[] = [];
    try {
      for (let i = 0; i < MIGRATIONS; i++) {
        const database = await createTestDatabase('postgres');
        const store = Store.open(database.url);
        try {
          await store.migrate();
        } catch (error) {
          failures.push((error as Error).message);
        } finally {
          await store.close();
          await database.drop();
        }
      }
    } finally {
      stop = true;
      await churn;
    }
    assert.deepEqual(failures, []);
  });
});
