import type { Config } from '../config.js';
import { Dispatcher } from '../engine/dispatcher.js';
import { EntryWorker } from '../engine/entry-worker.js';
import { Scheduler } from '../engine/scheduler.js';
import { SegmentEntryWorker } from '../engine/segment-entry.js';
import { buildServer } from '../http/server.js';
import { createLogger } from '../logger.js';
import { Store } from '../store/store.js';
import { bootstrapIfEmpty } from './bootstrap.js';

export type Role = 'all' | 'api' | 'worker';
export const ROLES: readonly Role[] = ['all', 'api', 'worker'];

export interface RunningService {
  readonly url: string | undefined;
  stop(): Promise<void>;
}

/** Starts the HTTP API (roles all/api) on a migrated store; workers join here as the engine grows. */
export async function serve(config: Config, role: Role): Promise<RunningService> {
  const logger = createLogger(config.logLevel);
  const store = Store.open(config.databaseUrl);
  await store.migrate();
  const bootstrap = await bootstrapIfEmpty(store, config.bootstrapApp, config.bootstrapToken);

  let url: string | undefined;
  const app = role === 'worker' ? undefined : buildServer({ store, logger });
  if (app) url = await app.listen({ host: config.host, port: config.port });
  const entryWorker = role === 'api' ? undefined : new EntryWorker(store, { logger });
  entryWorker?.start();
  const segmentEntryWorker = role === 'api' ? undefined : new SegmentEntryWorker(store, { logger });
  segmentEntryWorker?.start();
  const scheduler = role === 'api' ? undefined : new Scheduler(store, { logger });
  await scheduler?.start();
  const dispatcher = role === 'api' ? undefined : new Dispatcher(store, logger);
  await dispatcher?.start();

  if (url) console.log(`journeyd (${role}) listening on ${url} — database ${describeDatabase(config.databaseUrl)}`);
  if (bootstrap) {
    console.log(`bootstrap application: ${bootstrap.applicationCode}`);
    console.log(`bootstrap server API token: ${bootstrap.apiToken}`);
    console.log(`  try: curl -H 'Authorization: Api ${bootstrap.apiToken}' ${url ?? ''}/api/journey`);
  }

  return {
    url,
    async stop() {
      await app?.close();
      await entryWorker?.stop();
      await segmentEntryWorker?.stop();
      await scheduler?.stop();
      await dispatcher?.stop();
      await store.close();
    },
  };
}

/** The database URL without any password, for logs. */
function describeDatabase(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
