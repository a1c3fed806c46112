import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { readConfig } from '../../src/config.js';
import { serve, type RunningService } from '../../src/service/serve.js';
import { TEST_API_TOKEN, TEST_APP_CODE } from '../support/app.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { SINK_ALLOW_LIST, startHttpSink, type HttpSink } from '../support/http-sink.js';
import { call, registerUsers, startedJourney, startExternal } from '../support/journeyd-http.js';
import { waitUntil } from '../support/wait-until.js';

/** JOURNEYD_WEBHOOK_ALLOW from the environment to the start check and the dispatcher of `journeyd serve`. */
describeEachBackend('JOURNEYD_WEBHOOK_ALLOW', (dialect) => {
  let sink: HttpSink;
  const services: RunningService[] = [];
  const databases: TestDatabase[] = [];

  before(async () => {
    sink = await startHttpSink();
  });
  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all(databases.map((d) => d.drop()));
    await sink.close();
  });

  /** `journeyd serve` in process on a database of its own, with JOURNEYD_WEBHOOK_ALLOW set to `allowList` unless undefined. */
  async function serveWith(allowList: string | undefined): Promise<RunningService> {
    const database = await createTestDatabase(dialect);
    databases.push(database);
    const env = {
      JOURNEYD_DATABASE_URL: database.url,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      JOURNEYD_BOOTSTRAP_APP: TEST_APP_CODE,
      JOURNEYD_BOOTSTRAP_TOKEN: TEST_API_TOKEN,
      ...(allowList === undefined ? {} : { JOURNEYD_WEBHOOK_ALLOW: allowList }),
    };
    const service = await serve(readConfig(env), 'all');
    services.push(service);
    return service;
  }

  const points = () => [
    {
      uuid: 'api',
      point_type: 'POINT_TYPE_START_BY_API',
      point_data: { start_by_api: {} },
      outputs: [{ key: 'default', next_point_uuid: 'hook' }],
    },
    {
      uuid: 'hook',
      point_type: 'POINT_TYPE_WEBHOOK',
      point_data: { webhook: { url: `${sink.url}/allowed/{{ user_id }}`, method: 'GET' } },
      outputs: [{ key: 'default', next_point_uuid: 'exit' }],
    },
    { uuid: 'exit', point_type: 'POINT_TYPE_EXIT', point_data: {}, outputs: [] },
  ];

  it('refuses to start a process whose allow-list has an entry that is no CIDR, address or host name', async () => {
    await assert.rejects(serveWith('10.0.0.0/8, 10.0.0.0/33'), {
      message: 'JOURNEYD_WEBHOOK_ALLOW: "10.0.0.0/33" is neither a CIDR (10.0.0.0/8, fd00::/8), an IP address nor a host name',
    });
  });

  it('without it, refuses a journey whose webhook calls a loopback sink', async () => {
    const service = await serveWith(undefined);
    const created = await call(service.url!, 'POST', '/api/v3/journeygateway', {
      title: 'to loopback',
      params: { application_code: TEST_APP_CODE },
      points: points(),
    });
    assert.equal(created.status, 200);
    const started = await call(service.url!, 'POST', '/api/v3/journeygateway/start', {
      uuid: (created.body.info as { uuid: string }).uuid,
    });
    assert.equal(started.status, 400);
    assert.match(started.body.message as string, /^point \(hook\): webhook\.url is refused: 127\.0\.0\.1 is a loopback address/);
  });

  it('with loopback allowed, starts that journey and delivers its webhook to the sink', async () => {
    const service = await serveWith(SINK_ALLOW_LIST);
    await registerUsers(service.url!, ['ann']);
    const journey = await startedJourney(service.url!, points());
    await startExternal(service.url!, journey, ['ann']);
    await waitUntil('the webhook to reach the sink', () => sink.requests.some((r) => r.path === '/allowed/ann'));
  });
});
