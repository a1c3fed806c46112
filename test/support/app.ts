import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { WebhookDestinationPolicy } from '../../src/domain/webhook-destination.js';
import { createLogger } from '../../src/logger.js';
import type { App } from '../../src/http/app.js';
import { buildServer } from '../../src/http/server.js';
import { bootstrapIfEmpty } from '../../src/service/bootstrap.js';
import type { Dialect } from '../../src/store/backend.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from './backends.js';

export const TEST_APP_CODE = 'TEST0-00001';
export const TEST_API_TOKEN = 'test-api-token';

/** A migrated store on a fresh database with one bootstrapped application and token. */
export interface TestContext {
  readonly dialect: Dialect;
  readonly database: TestDatabase;
  readonly store: Store;
  readonly app: App;
  /** Sends a request with `Authorization: Api <bootstrap token>` unless headers say otherwise. */
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Where the start check lets webhooks go; the strict default when omitted. */
  readonly webhookDestinations?: WebhookDestinationPolicy;
}

export async function startTestApp(dialect: Dialect, options: TestAppOptions = {}): Promise<TestContext> {
  const database = await createTestDatabase(dialect);
  const store = Store.open(database.url);
  await store.migrate();
  await bootstrapIfEmpty(store, TEST_APP_CODE, TEST_API_TOKEN);
  const app = buildServer({ store, logger: createLogger('silent'), webhookDestinations: options.webhookDestinations });
  await app.ready();
  return {
    dialect,
    database,
    store,
    app,
    request: (options) => app.inject({ ...options, headers: { authorization: `Api ${TEST_API_TOKEN}`, ...options.headers } }),
    async close() {
      await app.close();
      await store.close();
      await database.drop();
    },
  };
}
