import { resolveWithSystem } from '../channels/webhook-destinations.js';
import type { Config } from '../config.js';
import { WebhookDestinationPolicy } from '../domain/webhook-destination.js';
import { Dispatcher } from '../engine/dispatcher.js';
import { EntryWorker } from '../engine/entry-worker.js';
import { Scheduler } from '../engine/scheduler.js';
import { armFaultPoint } from '../fault-points.js';
import { buildServer } from '../http/server.js';
import { createLogger, type Logger } from '../logger.js';
import { Store } from '../store/store.js';
import { bootstrapIfEmpty } from './bootstrap.js';
import { listenForMetrics, ServiceMetrics } from './metrics.js';
import { describeDatabase } from '../store/database-url.js';

export type Role = 'all' | 'api' | 'worker';
export const ROLES: readonly Role[] = ['all', 'api', 'worker'];

export interface RunningService {
  readonly url: string | undefined;
  /** Where `GET /metrics` answers: the metrics listener (METRICS_PORT), else the API port when it has a metrics token; else undefined. */
  readonly metricsUrl: string | undefined;
  readonly logger: Logger;
  /**
   * Graceful stop (docs/operations.md): the HTTP server refuses new requests
   * and lets those in flight finish while the workers stop claiming and
   * finish or give back the work in hand; then the store closes.
   */
  stop(): Promise<void>;
}

/** Starts the HTTP API (roles all/api) and the workers (roles all/worker) on a migrated store. */
export async function serve(config: Config, role: Role): Promise<RunningService> {
  armFaultPoint(config.fault);
  const webhookDestinations = WebhookDestinationPolicy.fromAllowList(config.webhookAllowList);
  if (!webhookDestinations.ok) throw new Error(`JOURNEYD_WEBHOOK_ALLOW: ${webhookDestinations.error}`);
  const logger = createLogger(config.logLevel);
  const store = Store.open(config.databaseUrl);
  await store.migrate();
  const bootstrap = await bootstrapIfEmpty(store, config.bootstrapApp, config.bootstrapToken);
  const metrics = new ServiceMetrics({ outboxBacklog: () => store.outbox.dueBacklog() });

  let url: string | undefined;
  const app =
    role === 'worker'
      ? undefined
      : buildServer(
          { store, logger, metrics, webhookDestinations: webhookDestinations.value },
          { limits: config.http, metricsToken: config.metricsToken },
        );
  if (app) url = await app.listen({ host: config.host, port: config.port });
  const metricsListener =
    config.metricsPort === undefined ? undefined : await listenForMetrics(metrics, config.metricsHost, config.metricsPort);
  const entryWorker = role === 'api' ? undefined : new EntryWorker(store, { logger, metrics });
  await entryWorker?.start();
  const segmentEntryWorker = role === 'api' ? undefined : new EntryWorker(store, { claims: 'segments', logger });
  await segmentEntryWorker?.start();
  const scheduler =
    role === 'api' ? undefined : new Scheduler(store, { logger, onBatch: metrics.batchCommitted, onRunsFailed: metrics.runsFailedAt });
  await scheduler?.start();
  const dispatcher =
    role === 'api'
      ? undefined
      : new Dispatcher(store, logger, {
          metrics,
          webhookDestinations: { policy: webhookDestinations.value, resolve: resolveWithSystem },
        });
  await dispatcher?.start();

  const apiMetricsUrl = url && config.metricsToken !== undefined ? `${url}/metrics` : undefined;
  const metricsUrl = metricsListener ? `${metricsListener.url}/metrics` : apiMetricsUrl;
  if (url) console.log(`journeyd (${role}) listening on ${url} — database ${describeDatabase(config.databaseUrl)}`);
  else console.log(`journeyd (${role}) running — database ${describeDatabase(config.databaseUrl)}`);
  if (metricsListener) console.log(`journeyd (${role}) metrics on ${metricsUrl}`);
  if (bootstrap) {
    console.log(`bootstrap application: ${bootstrap.applicationCode}`);
    console.log(`bootstrap server API token: ${bootstrap.apiToken}`);
    if (url) console.log(`  try: curl -H 'Authorization: Api ${bootstrap.apiToken}' ${url}/api/journey`);
  }

  return {
    url,
    metricsUrl,
    logger,
    async stop() {
      const stopped = await Promise.allSettled([
        app?.close(),
        entryWorker?.stop(),
        segmentEntryWorker?.stop(),
        scheduler?.stop(),
        dispatcher?.stop(),
        metricsListener?.close(),
      ]);
      await store.close();
      const failures = stopped.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
      if (failures.length > 0) throw new AggregateError(failures, 'journeyd did not stop cleanly');
    },
  };
}
