import { readConfig, type Config } from '../../src/config.js';
import { TEST_API_TOKEN, TEST_APP_CODE } from './app.js';
import type { TestDatabase } from './backends.js';

/** The settings of an in-process `serve()` on `database`: the defaults, an ephemeral port, the test app and token, no logs. */
export function serviceConfig(database: TestDatabase, overrides: Partial<Config> = {}): Config {
  return {
    ...readConfig({}),
    databaseUrl: database.url,
    port: 0,
    bootstrapApp: TEST_APP_CODE,
    bootstrapToken: TEST_API_TOKEN,
    logLevel: 'silent',
    ...overrides,
  };
}
