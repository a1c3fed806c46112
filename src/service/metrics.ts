import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DispatcherMetrics } from '../engine/dispatcher.js';
import type { EntryWorkerMetrics } from '../engine/entry-worker.js';
import type { BatchReport, FailedRunsReport } from '../engine/scheduler.js';
import type { HttpMetrics } from '../http/app.js';
import type { MessageOutcome } from '../store/outbox/index.js';

/** What the metrics read from the database on every scrape. */
export interface MetricsSources {
  readonly outboxBacklog: () => Promise<{ messages: number; oldestDueAt: number | null }>;
}

/** Lease-holding work whose expiries are counted (docs/operations.md says what is not). */
type LeasedWork = 'outbox_message' | 'entry_request';

/**
 * Every Prometheus metric of one journeyd process, in a registry of its own
 * (never prom-client's global one, so a test process can hold many). The
 * engine and the HTTP layer see it through their own small interfaces;
 * docs/operations.md lists the metrics.
 */
export class ServiceMetrics implements HttpMetrics, DispatcherMetrics, EntryWorkerMetrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  private readonly httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly runsClaimed: Counter<'point_type'>;
  private readonly runsMoved: Counter<'point_type'>;
  private readonly runsFailed: Counter<'point_type'>;
  private readonly dispatchLatency: Histogram<'outcome'>;
  private readonly leaseExpiries: Counter<'work'>;
  private backlogReading: Promise<{ messages: number; oldestDueAt: number | null } | undefined> | undefined;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'journeyd_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.httpRequestDuration = new Histogram({
      name: 'journeyd_http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to answering it, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.runsClaimed = new Counter({
      name: 'journeyd_scheduler_runs_claimed_total',
      help: 'Runs the scheduler claimed in committed batches, by the type of the point they were due at',
      labelNames: ['point_type'],
      registers,
    });
    this.runsMoved = new Counter({
      name: 'journeyd_scheduler_runs_moved_total',
      help: 'Runs executed at a point in committed batches, by point type; a run passing several instant points in one batch counts at each',
      labelNames: ['point_type'],
      registers,
    });
    this.runsFailed = new Counter({
      name: 'journeyd_scheduler_runs_failed_total',
      help: 'Runs that exited their journey as failed because every attempt of their batch threw, by point type',
      labelNames: ['point_type'],
      registers,
    });
    this.dispatchLatency = new Histogram({
      name: 'journeyd_dispatch_latency_seconds',
      help: "Time from a dispatcher's claim of a due message to its provider's answer, by outcome (sent, failed, retry)",
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.leaseExpiries = new Counter({
      name: 'journeyd_lease_expiries_total',
      help: 'Claims this process lost because their lease expired and another worker claimed the work again',
      labelNames: ['work'],
      registers,
    });
    for (const work of ['outbox_message', 'entry_request'] satisfies LeasedWork[]) this.leaseExpiries.inc({ work }, 0);

    const dueMessages: Gauge = new Gauge({
      name: 'journeyd_outbox_due_messages',
      help: 'Messages in the outbox that are due and not claimed by a dispatcher (read at scrape)',
      registers,
      collect: async () => {
        const backlog = await this.readBacklog();
        dueMessages.set(backlog ? backlog.messages : Number.NaN);
      },
    });
    const oldestDueAge: Gauge = new Gauge({
      name: 'journeyd_outbox_oldest_due_age_seconds',
      help: 'How long the longest-waiting due, unclaimed outbox message has been due; 0 when none (read at scrape)',
      registers,
      collect: async () => {
        const backlog = await this.readBacklog();
        if (!backlog) oldestDueAge.set(Number.NaN);
        else oldestDueAge.set(backlog.oldestDueAt === null ? 0 : Math.max(0, Date.now() - backlog.oldestDueAt) / 1000);
      },
    });
  }

  requestAnswered(method: string, route: string, statusCode: number, seconds: number): void {
    const labels = { method, route, status_code: String(statusCode) };
    this.httpRequests.inc(labels);
    this.httpRequestDuration.observe(labels, seconds);
  }

  /** The scheduler's `onBatch`: one report per point a committed batch executed. */
  readonly batchCommitted = (report: BatchReport): void => {
    if (report.claimed) this.runsClaimed.inc({ point_type: report.pointType }, report.runs);
    this.runsMoved.inc({ point_type: report.pointType }, report.runs);
  };

  /** The scheduler's `onRunsFailed`. */
  readonly runsFailedAt = (report: FailedRunsReport): void => {
    this.runsFailed.inc({ point_type: report.pointType }, report.runs);
  };

  deliveryAnswered(outcome: MessageOutcome['kind'], sinceClaimMs: number): void {
    this.dispatchLatency.observe({ outcome }, sinceClaimMs / 1000);
  }

  leasesLost(messages: number): void {
    this.leaseExpiries.inc({ work: 'outbox_message' satisfies LeasedWork }, messages);
  }

  /** A Start-by-API request whose lease expired and which another entry worker claimed (EntryWorkerMetrics). */
  leaseExpired(work: 'entry_request'): void {
    this.leaseExpiries.inc({ work: work satisfies LeasedWork });
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** One database read per scrape, shared by the gauges it feeds; undefined when the database did not answer. */
  private readBacklog() {
    this.backlogReading ??= this.sources
      .outboxBacklog()
      .catch(() => undefined)
      .finally(() => {
        this.backlogReading = undefined;
      });
    return this.backlogReading;
  }
}

export interface MetricsListener {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * `GET /metrics` and nothing else, without authentication, on a port of its own (METRICS_PORT, bound to
 * METRICS_HOST, a private interface): role worker has no API port, and the API port serves it only with a token.
 */
export async function listenForMetrics(metrics: HttpMetrics, host: string, port: number): Promise<MetricsListener> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    metrics.exposition().then(
      ({ contentType, body }) => response.writeHead(200, { 'content-type': contentType }).end(body),
      (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
