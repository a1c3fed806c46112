import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { RATE_LIMIT_WINDOW_MS } from '../../src/store/entry/index.js';
import type { Store } from '../../src/store/store.js';
import { TEST_APP_CODE, type TestContext } from '../support/app.js';

/** Helpers shared by the Start-by-API suites: journeys and devices made through the real APIs. */

export const API_POINT = 'api-entry';
export const EXIT_POINT = 'the-exit';

export interface TestPoint {
  uuid: string;
  title?: string;
  point_type: string;
  point_data: Record<string, unknown>;
  outputs: { key: string; next_point_uuid: string }[];
}

export function apiPoint(
  uuid = API_POINT,
  options: { attributes?: { name: string; default?: string }[]; deactivated?: boolean } = {},
): TestPoint {
  return {
    uuid,
    title: `Start ${uuid}`,
    point_type: 'POINT_TYPE_START_BY_API',
    point_data: {
      start_by_api: {
        attributes: options.attributes ?? [{ name: 'promo_code', default: 'NONE' }, { name: 'tier' }],
        is_deactivated: options.deactivated ?? false,
      },
    },
    outputs: [{ key: 'default', next_point_uuid: EXIT_POINT }],
  };
}

export function exitPoint(): TestPoint {
  return { uuid: EXIT_POINT, title: 'Done', point_type: 'POINT_TYPE_EXIT', point_data: { exit: {} }, outputs: [] };
}

export function segmentPoint(uuid = 'by-segment'): TestPoint {
  return {
    uuid,
    title: 'By segment',
    point_type: 'POINT_TYPE_START_BY_SEGMENT',
    point_data: { start_by_segment: { filter: `A("${TEST_APP_CODE}")`, start_at: '2099-01-01T00:00:00Z' } },
    outputs: [{ key: 'default', next_point_uuid: EXIT_POINT }],
  };
}

/** Creates a journey over HTTP and, unless `status` says otherwise, starts it. Returns its uuid. */
export async function createJourney(
  ctx: TestContext,
  points: TestPoint[] = [apiPoint(), exitPoint()],
  options: { params?: Record<string, unknown>; start?: boolean; title?: string } = {},
): Promise<string> {
  const created = await ctx.request({
    method: 'POST',
    url: '/api/v3/journeygateway',
    payload: {
      title: options.title ?? 'Onboarding',
      params: { application_code: TEST_APP_CODE, ...options.params },
      points,
    },
  });
  assert.equal(created.statusCode, 200, created.body);
  const uuid = created.json<{ info: { uuid: string } }>().info.uuid;
  if (options.start !== false) await lifecycle(ctx, 'start', uuid);
  return uuid;
}

export async function lifecycle(ctx: TestContext, action: string, uuid: string): Promise<void> {
  const res = await ctx.request({ method: 'POST', url: `/api/v3/journeygateway/${action}`, payload: { uuid } });
  assert.equal(res.statusCode, 200, res.body);
}

/** Registers devices through the Device API; a device without userId is its own user. */
export async function registerDevices(ctx: TestContext, devices: { hwid: string; userId?: string }[]): Promise<void> {
  for (const device of devices) {
    const res = await ctx.request({
      method: 'POST',
      url: '/json/1.3/registerDevice',
      payload: { request: { application: TEST_APP_CODE, device_type: 3, ...device } },
    });
    assert.equal(res.statusCode, 200, res.body);
  }
}

/** Sets tags on one device through the Device API. */
export async function setTags(ctx: TestContext, hwid: string, tags: Record<string, unknown>): Promise<void> {
  const res = await ctx.request({
    method: 'POST',
    url: '/json/1.3/setTags',
    payload: { request: { application: TEST_APP_CODE, hwid, tags } },
  });
  assert.equal(res.statusCode, 200, res.body);
}

export function startExternal(
  ctx: TestContext,
  journey: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return ctx.request({
    method: 'POST',
    url: `/api/journey/${journey}/start/external`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export interface RequestStatus {
  request_uuid: string;
  status: string;
  selected: number;
  entered: number;
  skipped: { unknown: number; already_in_journey: number };
  created_at: string;
  finished_at: string | null;
  error?: string;
}

export async function requestStatus(
  ctx: TestContext,
  journey: string,
  requestUuid: string,
  headers: Record<string, string> = {},
): Promise<RequestStatus> {
  const res = await ctx.request({ method: 'GET', url: `/api/journey/${journey}/start/external/${requestUuid}`, headers });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<RequestStatus>();
}

/** Pretends a minute has passed since every entry point last accepted a request. */
export async function ageRateLimits(store: Store): Promise<void> {
  await sql`UPDATE entry_rate_limits SET last_accepted_at = last_accepted_at - ${RATE_LIMIT_WINDOW_MS}`.execute(store.backend.db);
}

/** Where the dialect stages an audience: a row per user on SQLite, chunks of users on Postgres. */
export function stageTable(store: Store): 'entry_stage' | 'entry_stage_chunks' {
  return store.dialect === 'postgres' ? 'entry_stage_chunks' : 'entry_stage';
}

/** Row counts of every table Start by API writes, to show that a refused request wrote nothing. */
export async function entryRowCounts(store: Store): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['entry_requests', 'entry_rate_limits', stageTable(store), 'runs', 'journey_point_counters', 'devices'] as const) {
    const row = await store.backend.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    counts[table] = Number(row.n);
  }
  return counts;
}

export interface RunRow {
  user_id: string;
  point_uuid: string;
  state: string;
  attributes: Record<string, string>;
}

export async function runsOf(store: Store, journeyUuid: string): Promise<RunRow[]> {
  const rows = await store.backend.db
    .selectFrom('runs')
    .innerJoin('journeys', 'journeys.id', 'runs.journey_id')
    .select(['runs.user_id', 'runs.point_uuid', 'runs.state', 'runs.attributes'])
    .where('journeys.uuid', '=', journeyUuid)
    .orderBy('runs.user_id')
    .orderBy('runs.id')
    .execute();
  return rows.map((r) => ({ ...r, attributes: JSON.parse(r.attributes) as Record<string, string> }));
}
