import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { App } from '../../src/http/app.js';
import { buildServer } from '../../src/http/server.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from '../support/backends.js';

describe('log fields of journey routes', () => {
  let database: TestDatabase;
  let store: Store;
  let app: App;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    database = await createTestDatabase('sqlite');
    store = Store.open(database.url);
    await store.migrate();
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    app = buildServer({ store, logger });
    // A handler that fails, so that the error handler writes its line about the request.
    app.get('/api/journey/:id/start/external/:request_uuid/failing', async () => {
      throw new Error('handler failed');
    });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await store.close();
    await database.drop();
  });

  it('names the journey and the start request on every line about a /api/journey/:id/… request', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/journey/journey-7/start/external/request-9/failing' });
    assert.equal(res.statusCode, 500);
    const line = lines.find((l) => l.msg === 'request failed');
    assert.ok(line, JSON.stringify(lines));
    assert.equal(line.journey_id, 'journey-7');
    assert.equal(line.request_uuid, 'request-9');
  });
});
