import { TEST_API_TOKEN, TEST_APP_CODE } from './app.js';

/** Calls for tests that reach a real journeyd over HTTP (a spawned `journeyd serve`, or `serve()` in process). */

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

export async function call(baseUrl: string, method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Api ${TEST_API_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

function expectOk(reply: Reply, what: string): Reply {
  if (reply.status !== 200) throw new Error(`${what} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply;
}

/** One device per user, registered through the Device API. */
export async function registerUsers(baseUrl: string, userIds: readonly string[]): Promise<void> {
  for (const userId of userIds) {
    const request = { application: TEST_APP_CODE, hwid: `${userId}-hw`, userId, device_type: 3 };
    expectOk(await call(baseUrl, 'POST', '/json/1.3/registerDevice', { request }), 'registerDevice');
  }
}

/** Creates and starts a journey of these points; returns its uuid. */
export async function startedJourney(baseUrl: string, points: readonly unknown[]): Promise<string> {
  const created = expectOk(
    await call(baseUrl, 'POST', '/api/v3/journeygateway', { title: 'operations', params: { application_code: TEST_APP_CODE }, points }),
    'create journey',
  );
  const uuid = (created.body.info as { uuid: string }).uuid;
  expectOk(await call(baseUrl, 'POST', '/api/v3/journeygateway/start', { uuid }), 'start journey');
  return uuid;
}

/** Accepts a Start-by-API request for these users; returns its request uuid. */
export async function startExternal(baseUrl: string, journey: string, users: readonly string[]): Promise<string> {
  const accepted = expectOk(
    await call(baseUrl, 'POST', `/api/journey/${journey}/start/external`, { payload: { users } }),
    'start/external',
  );
  return accepted.body.request_uuid as string;
}
