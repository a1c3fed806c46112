/**
 * Message benchmarks (docs/messages.md):
 *
 *   templates          µs per render: a plain `{{ var }}` template (the concatenation shortcut),
 *                      the same through Liquid (a filter forces it), and building the per-run scope.
 *   outbox <dialect>   MESSAGES push messages (default 100,000) enqueued in transactions of 1,000
 *                      rows as the engine does, then delivered by one dispatcher through the log
 *                      provider (claim → deliver → record → delivery log → counters).
 *   webhook <dialect>  WEBHOOKS webhook messages (default 5,000) delivered over HTTP to a
 *                      loopback sink.
 *
 * Without arguments it runs each in its own child process (so each reports its own peak RSS).
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { RenderBudget, renderTemplate, templateScope } from '../../src/domain/templates.js';
import { Dispatcher } from '../../src/engine/dispatcher.js';
import { createLogger } from '../../src/logger.js';
import type { Dialect } from '../../src/store/backend.js';
import type { BatchMessage, OutboxBatch } from '../../src/store/outbox/index.js';
import type { Store } from '../../src/store/store.js';
import { openBenchStore } from '../fixtures.js';
import { peakRssMb, report } from '../report.js';
import { SINK_WEBHOOK_DESTINATIONS } from '../../test/support/http-sink.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MESSAGES = Number(process.env.MESSAGES ?? 100_000);
const WEBHOOKS = Number(process.env.WEBHOOKS ?? 5_000);
const ENGINE_BATCH = 1_000;

function runAll(): void {
  let failed = 0;
  const runs = [['templates'], ['outbox', 'sqlite'], ['outbox', 'postgres'], ['webhook', 'sqlite'], ['webhook', 'postgres']];
  for (const args of runs) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', SELF, ...args], { stdio: 'inherit', cwd: ROOT });
    if (child.status !== 0) failed++;
  }
  process.exit(failed > 0 ? 1 : 0);
}

function microsPerCall(count: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(count, 10_000); i++) fn(i);
  const start = performance.now();
  for (let i = 0; i < count; i++) fn(i);
  return ((performance.now() - start) * 1000) / count;
}

function benchTemplates(): void {
  const N = 1_000_000;
  const attributes = Array.from({ length: 1000 }, (_, i) => ({ promo_code: `CODE${i}` }));
  const tags = { City: 'London', Name: 'Ann', Age: 42 };
  const scopes = attributes.map((a, i) => templateScope({ attributeValues: a, tags, userId: `user-${i}` }));
  const plain = 'Hi {{ tags.Name }} from {{ tags.City }}: use {{ promo_code }} ({{ user_id }})';
  const filtered = 'Hi {{ tags.Name | default: "friend" }} from {{ tags.City }}: use {{ promo_code }} ({{ user_id }})';
  const budget = () => new RenderBudget({ maxLength: 4096, overflowReason: 'over 4 KiB' });
  report('templates: plain {{ var }} (shortcut)', {
    us_per_render: microsPerCall(N, (i) => renderTemplate(plain, scopes[i % 1000]!, budget())),
  });
  report('templates: with a filter (Liquid)', {
    us_per_render: microsPerCall(N / 10, (i) => renderTemplate(filtered, scopes[i % 1000]!, budget())),
  });
  report('templates: per-run scope', {
    us_per_scope: microsPerCall(N, (i) => templateScope({ attributeValues: attributes[i % 1000]!, tags, userId: 'u' })),
  });
  report('templates: peak', { rss_mb: peakRssMb() });
}

async function withDatabase(dialect: Dialect, fn: (store: Store) => Promise<void>): Promise<void> {
  const { store, close } = await openBenchStore(dialect);
  try {
    await fn(store);
  } finally {
    await close();
  }
}

/** Enqueues `count` messages of one point through the outbox insert the scheduler uses, ENGINE_BATCH to a transaction. */
async function enqueueInEngineBatches(
  store: Store,
  point: Omit<OutboxBatch, 'items'>,
  count: number,
  make: (i: number) => BatchMessage,
): Promise<number> {
  const start = performance.now();
  for (let from = 0; from < count; from += ENGINE_BATCH) {
    const items = Array.from({ length: Math.min(ENGINE_BATCH, count - from) }, (_, k) => make(from + k));
    await store.backend.db.transaction().execute((trx) => store.outbox.enqueue([{ ...point, items }], trx, Date.now()));
  }
  return (performance.now() - start) / 1000;
}

async function drain(store: Store, dispatcher: Dispatcher, count: number): Promise<number> {
  const start = performance.now();
  await dispatcher.start();
  for (;;) {
    const row = await store.backend.db
      .selectFrom('message_deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    if (Number(row.n) >= count) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const seconds = (performance.now() - start) / 1000;
  await dispatcher.stop();
  return seconds;
}

async function benchOutbox(dialect: Dialect): Promise<void> {
  await withDatabase(dialect, async (store) => {
    const app = await store.applications.create('BENCH-00001', 'bench');
    const enqueueSeconds = await enqueueInEngineBatches(
      store,
      { applicationId: app.id, journeyId: 1, pointUuid: 'push', channel: 'push' },
      MESSAGES,
      (i) => ({
        runId: i + 1,
        userId: `user-${i}`,
        hwid: `hwid-${i}`,
        recipient: `token-${i}`,
        payload: { title: 'Hello', body: `Your code is CODE${i % 1000}` },
        deliverAt: Date.now(),
      }),
    );
    report(`outbox ${dialect}: enqueue ${MESSAGES} in txns of ${ENGINE_BATCH}`, {
      seconds: enqueueSeconds,
      rows_per_s: MESSAGES / enqueueSeconds,
    });
    const dispatcher = new Dispatcher(store, createLogger('silent'), { batchSize: 1_000, concurrency: 64 });
    const seconds = await drain(store, dispatcher, MESSAGES);
    report(`outbox ${dialect}: dispatch ${MESSAGES} push via log`, { seconds, msgs_per_s: MESSAGES / seconds, rss_mb: peakRssMb() });
  });
}

async function benchWebhook(dialect: Dialect): Promise<void> {
  let received = 0;
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`;
  try {
    await withDatabase(dialect, async (store) => {
      const app = await store.applications.create('BENCH-00001', 'bench');
      const point = { applicationId: app.id, journeyId: 1, pointUuid: 'hook', channel: 'webhook' } as const;
      await enqueueInEngineBatches(store, point, WEBHOOKS, (i) => ({
        runId: i + 1,
        userId: `user-${i}`,
        hwid: null,
        recipient: url,
        payload: { method: 'POST', headers: {}, body: `{"n":${i}}` },
        deliverAt: Date.now(),
      }));
      const dispatcher = new Dispatcher(store, createLogger('silent'), {
        batchSize: 500,
        concurrency: 32,
        webhookDestinations: SINK_WEBHOOK_DESTINATIONS,
      });
      const seconds = await drain(store, dispatcher, WEBHOOKS);
      report(`webhook ${dialect}: ${WEBHOOKS} over HTTP, concurrency 32`, {
        seconds,
        msgs_per_s: WEBHOOKS / seconds,
        requests: received,
        rss_mb: peakRssMb(),
      });
    });
  } finally {
    sink.closeAllConnections();
    sink.close();
  }
}

const [mode, dialectArg] = process.argv.slice(2);
const dialect = dialectArg === 'postgres' ? 'postgres' : 'sqlite';
switch (mode) {
  case undefined:
    runAll();
    break;
  case 'templates':
    benchTemplates();
    break;
  case 'outbox':
    await benchOutbox(dialect);
    break;
  case 'webhook':
    await benchWebhook(dialect);
    break;
  default:
    console.error(`unknown mode ${mode}; expected templates, outbox <dialect> or webhook <dialect>`);
    process.exit(2);
}
