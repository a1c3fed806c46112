import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { serve, type Role, type RunningService } from '../../src/service/serve.js';
import { Store } from '../../src/store/store.js';
import { TEST_API_TOKEN, TEST_APP_CODE } from '../support/app.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { call, registerUsers, startedJourney, startExternal } from '../support/journeyd-http.js';
import { sampleValue } from '../support/metrics.js';
import { serviceConfig } from '../support/service-config.js';
import { enqueueMessages } from '../support/outbox.js';
import { waitUntil } from '../support/wait-until.js';
import { apiPoint, exitPoint } from '../http/start-external-support.js';

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

const METRICS_TOKEN = 'metrics-scrape-secret';

/** GET its metrics with the metrics token (which the metrics-only listener does not ask for). */
async function scrape(service: RunningService): Promise<{ contentType: string | null; text: string }> {
  assert.ok(service.metricsUrl, 'the service serves metrics');
  const res = await fetch(service.metricsUrl, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.equal(res.status, 200);
  return { contentType: res.headers.get('content-type'), text: await res.text() };
}

describeEachBackend('metrics of a running service', (dialect) => {
  const services: RunningService[] = [];
  const databases: TestDatabase[] = [];

  async function start(role: Role, overrides: Partial<Config> = {}): Promise<{ service: RunningService; database: TestDatabase }> {
    const database = await createTestDatabase(dialect);
    databases.push(database);
    const service = await serve(serviceConfig(database, { metricsToken: METRICS_TOKEN, ...overrides }), role);
    services.push(service);
    return { service, database };
  }

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all(databases.map((d) => d.drop()));
  });

  let all: RunningService;
  before(async () => {
    ({ service: all } = await start('all'));
  });

  it('serves /metrics on the API port in the Prometheus text format, with the process default metrics', async () => {
    assert.equal(all.metricsUrl, `${all.url}/metrics`);
    const { contentType, text } = await scrape(all);
    assert.equal(contentType, PROMETHEUS_TEXT);
    assert.ok(sampleValue(text, 'process_cpu_user_seconds_total')! > 0, 'default process metrics are collected');
    assert.ok(sampleValue(text, 'nodejs_heap_size_used_bytes')! > 0);
  });

  it('answers /metrics on the API port to the metrics token alone: 401 {code, message} without it or with another', async () => {
    for (const authorization of [undefined, 'Bearer another-token', `Api ${TEST_API_TOKEN}`, METRICS_TOKEN]) {
      const res = await fetch(`${all.url}/metrics`, { headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401, String(authorization));
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.deepEqual(await res.json(), { code: 401, message: 'missing or wrong "Authorization: Bearer <token>"' });
    }
  });

  it('without a metrics token, leaves /metrics off the API port; METRICS_PORT serves it to anyone, whatever the role', async () => {
    const { service } = await start('all', { metricsToken: undefined, metricsPort: 0 });
    const url = service.url as string;
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 404);
    assert.ok(service.metricsUrl && !service.metricsUrl.startsWith(url), service.metricsUrl);
    const res = await fetch(service.metricsUrl);
    assert.equal(res.status, 200);
    assert.ok((await res.text()).includes('# TYPE journeyd_http_requests_total counter'));

    const { service: api } = await start('api', { metricsToken: undefined });
    assert.equal(api.metricsUrl, undefined);
    assert.equal((await fetch(`${api.url}/metrics`)).status, 404);
  });

  it('counts HTTP requests by route pattern and status code, never by raw URL', async () => {
    const url = all.url as string;
    const journey = randomUUID();
    const requestUuid = randomUUID();
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await call(url, 'GET', `/api/journey/${journey}/start/external/${requestUuid}`)).status, 404);
    assert.equal((await fetch(`${url}/api/journey/${journey}/start/external/${requestUuid}`)).status, 401);
    assert.equal((await fetch(`${url}/no/such/route/${requestUuid}`)).status, 404);

    const { text } = await scrape(all);
    const requests = (route: string, status: number) =>
      sampleValue(text, 'journeyd_http_requests_total', { method: 'GET', route, status_code: String(status) });
    assert.equal(requests('/healthz', 200), 3);
    assert.equal(requests('/api/journey/:id/start/external/:request_uuid', 404), 1);
    assert.equal(requests('/api/journey/:id/start/external/:request_uuid', 401), 1);
    assert.equal(requests('unmatched', 404), 1);
    assert.ok(!text.includes(requestUuid), 'no raw URL in any label');
    const durations = sampleValue(text, 'journeyd_http_request_duration_seconds_count', {
      method: 'GET',
      route: '/healthz',
      status_code: '200',
    });
    assert.equal(durations, 3);
  });

  it('counts the runs the scheduler claimed and moved, per point type, after its batches', async () => {
    const url = all.url as string;
    const before = (await scrape(all)).text;
    const moved = (text: string, pointType: string) =>
      sampleValue(text, 'journeyd_scheduler_runs_moved_total', { point_type: pointType }) ?? 0;
    const claimed = (text: string, pointType: string) =>
      sampleValue(text, 'journeyd_scheduler_runs_claimed_total', { point_type: pointType }) ?? 0;

    await registerUsers(url, ['ann', 'bob', 'cy']);
    const journey = await startedJourney(url, [apiPoint(), exitPoint()]);
    await startExternal(url, journey, ['ann', 'bob', 'cy']);

    // 30 s only names a hang: entering and one batch once took over 10 s on a loaded machine.
    const after = await waitUntil(
      'the runs to reach the exit',
      async () => {
        const { text } = await scrape(all);
        return moved(text, 'POINT_TYPE_EXIT') - moved(before, 'POINT_TYPE_EXIT') === 3 ? text : undefined;
      },
      30_000,
    );
    assert.equal(moved(after, 'POINT_TYPE_START_BY_API') - moved(before, 'POINT_TYPE_START_BY_API'), 3);
    assert.equal(claimed(after, 'POINT_TYPE_START_BY_API') - claimed(before, 'POINT_TYPE_START_BY_API'), 3);
    // The exit ran in the batch that claimed the runs at the entry point: not claimed a second time.
    assert.equal(claimed(after, 'POINT_TYPE_EXIT'), 0);
  });

  it('reads the outbox backlog at each scrape: due unclaimed messages and how long the oldest has waited', async () => {
    // Role api runs no dispatcher, so what is enqueued stays due.
    const { service, database } = await start('api');
    const empty = (await scrape(service)).text;
    assert.equal(sampleValue(empty, 'journeyd_outbox_due_messages'), 0);
    assert.equal(sampleValue(empty, 'journeyd_outbox_oldest_due_age_seconds'), 0);

    const store = Store.open(database.url);
    try {
      const application = await store.applications.findByCode(TEST_APP_CODE);
      assert.ok(application);
      const message = (runId: number, deliverAt: number) => ({
        applicationId: application.id,
        journeyId: 1,
        runId,
        pointUuid: 'hook',
        userId: `user-${runId}`,
        message: {
          channel: 'webhook' as const,
          recipient: 'http://127.0.0.1:9/hook',
          payload: { method: 'POST' as const, headers: {}, body: '{}' },
        },
        deliverAt,
      });
      const now = Date.now();
      await enqueueMessages(store, [message(1, now - 60_000), message(2, now - 1_000), message(3, now + 3_600_000)]);
    } finally {
      await store.close();
    }

    const { text } = await scrape(service);
    assert.equal(sampleValue(text, 'journeyd_outbox_due_messages'), 2, 'the message due in an hour is not counted');
    const oldest = sampleValue(text, 'journeyd_outbox_oldest_due_age_seconds')!;
    assert.ok(oldest >= 60 && oldest < 120, `oldest due age ${oldest}`);
  });

  it('in role worker, serves /metrics on METRICS_PORT, with the engine metrics', async () => {
    const { service } = await start('worker', { metricsPort: 0 });
    assert.equal(service.url, undefined);
    const { contentType, text } = await scrape(service);
    assert.equal(contentType, PROMETHEUS_TEXT);
    assert.ok(text.includes('# TYPE journeyd_scheduler_runs_moved_total counter'));
    assert.equal(sampleValue(text, 'journeyd_lease_expiries_total', { work: 'outbox_message' }), 0);
    const other = await fetch(new URL('/healthz', service.metricsUrl));
    assert.equal(other.status, 404);
  });
});
