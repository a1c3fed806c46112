import assert from 'node:assert/strict';
import type { PointDraft } from '../../src/domain/journey.js';
import type { Store } from '../../src/store/store.js';
import { TEST_APP_CODE, type TestContext } from '../support/app.js';
import { point } from '../support/journey-fixtures.js';

/** Helpers shared by the event, segment and drop-users suites: journeys, devices and events through the real APIs. */

export const EXIT = 'the-exit';

export function exitPoint(uuid = EXIT): PointDraft {
  return point(uuid, 'POINT_TYPE_EXIT', { exit: {} });
}

export function eventEntry(
  uuid: string,
  eventName: string,
  options: { conditions?: unknown[]; deactivated?: boolean; next?: string } = {},
): PointDraft {
  return point(
    uuid,
    'POINT_TYPE_EVENT',
    {
      message_bus: {
        event_name: eventName,
        ...(options.conditions ? { event_conditions: options.conditions } : {}),
        ...(options.deactivated === undefined ? {} : { is_deactivated: options.deactivated }),
      },
    },
    { default: options.next ?? EXIT },
  );
}

export function segmentEntry(
  uuid: string,
  filter: string,
  options: { startAt?: string; deactivated?: boolean; next?: string } = {},
): PointDraft {
  return point(
    uuid,
    'POINT_TYPE_START_BY_SEGMENT',
    {
      start_by_segment: {
        filter,
        ...(options.startAt === undefined ? {} : { start_at: options.startAt }),
        ...(options.deactivated === undefined ? {} : { is_deactivated: options.deactivated }),
      },
    },
    { default: options.next ?? EXIT },
  );
}

export function apiEntry(uuid = 'api', next = EXIT): PointDraft {
  return point(uuid, 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: next });
}

/** Creates a journey over HTTP and, unless told otherwise, starts it; returns its uuid. */
export async function createJourney(
  ctx: TestContext,
  points: PointDraft[],
  options: { params?: Record<string, unknown>; start?: boolean; headers?: Record<string, string>; app?: string } = {},
): Promise<string> {
  const created = await ctx.request({
    method: 'POST',
    url: '/api/v3/journeygateway',
    headers: options.headers,
    payload: { title: 'Journey', params: { application_code: options.app ?? TEST_APP_CODE, ...options.params }, points },
  });
  assert.equal(created.statusCode, 200, created.body);
  const uuid = created.json<{ info: { uuid: string } }>().info.uuid;
  if (options.start !== false) await lifecycle(ctx, 'start', uuid, options.headers);
  return uuid;
}

export async function lifecycle(ctx: TestContext, action: string, uuid: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await ctx.request({ method: 'POST', url: `/api/v3/journeygateway/${action}`, payload: { uuid }, headers });
  assert.equal(res.statusCode, 200, res.body);
}

/** Registers Android devices through the Device API, then sets their tags if given. */
export async function registerDevices(
  ctx: TestContext,
  devices: { hwid: string; userId?: string; tags?: Record<string, unknown> }[],
  app = TEST_APP_CODE,
  headers: Record<string, string> = {},
): Promise<void> {
  for (const { tags, ...device } of devices) {
    const res = await ctx.request({
      method: 'POST',
      url: '/json/1.3/registerDevice',
      headers,
      payload: { request: { application: app, device_type: 3, ...device } },
    });
    assert.equal(res.statusCode, 200, res.body);
    if (!tags) continue;
    const tagged = await ctx.request({
      method: 'POST',
      url: '/json/1.3/setTags',
      headers,
      payload: { request: { application: app, hwid: device.hwid, tags } },
    });
    assert.equal(tagged.statusCode, 200, tagged.body);
  }
}

/** postEvent for a user (or a device with `{hwid}`); fails the test unless accepted. */
export async function postEvent(
  ctx: TestContext,
  subject: { userId: string } | { hwid: string },
  event: string,
  attributes: Record<string, unknown> = {},
): Promise<void> {
  const res = await ctx.request({
    method: 'POST',
    url: '/json/1.3/postEvent',
    payload: { request: { application: TEST_APP_CODE, ...subject, event, attributes } },
  });
  assert.equal(res.statusCode, 200, res.body);
}

export interface RunRow {
  id: number;
  user_id: string;
  point_uuid: string;
  state: string;
  due_at: number;
  attributes: Record<string, string>;
  exited_at: number | null;
}

/** The journey's runs, by user then id. */
export async function runsOf(store: Store, journeyUuid: string): Promise<RunRow[]> {
  const rows = await store.backend.db
    .selectFrom('runs')
    .innerJoin('journeys', 'journeys.id', 'runs.journey_id')
    .select(['runs.id', 'runs.user_id', 'runs.point_uuid', 'runs.state', 'runs.due_at', 'runs.attributes', 'runs.exited_at'])
    .where('journeys.uuid', '=', journeyUuid)
    .orderBy('runs.user_id')
    .orderBy('runs.id')
    .execute();
  return rows.map((r) => ({
    ...r,
    id: Number(r.id),
    due_at: Number(r.due_at),
    exited_at: r.exited_at === null ? null : Number(r.exited_at),
    attributes: JSON.parse(r.attributes) as Record<string, string>,
  }));
}

/** `user@point` of the journey's active runs, sorted. */
export async function activeRuns(store: Store, journeyUuid: string): Promise<string[]> {
  return (await runsOf(store, journeyUuid))
    .filter((run) => run.state === 'active')
    .map((run) => `${run.user_id}@${run.point_uuid}`)
    .sort();
}

export interface Statistics {
  totals: { entered: number; in_journey: number; exited: number };
  points: Record<string, { entered: number; in_point: number; passed: number }>;
}

/** The statistics endpoint's answer, with points keyed by uuid. */
export async function statistics(ctx: TestContext, journeyUuid: string): Promise<Statistics> {
  const res = await ctx.request({ method: 'GET', url: `/api/journey/${journeyUuid}/statistics/external` });
  assert.equal(res.statusCode, 200, res.body);
  const { payload } = res.json<{
    payload: { totals: Statistics['totals']; points: { uuid: string; entered: number; in_point: number; passed: number }[] };
  }>();
  return {
    totals: payload.totals,
    points: Object.fromEntries(payload.points.map((p) => [p.uuid, { entered: p.entered, in_point: p.in_point, passed: p.passed }])),
  };
}

/**
 * Puts a run of `userId` at `pointUuid` as the scheduler leaves a run whose
 * wait there has begun: active, waiting, due when the wait ends.
 */
export async function placeWaitingRun(
  store: Store,
  journeyUuid: string,
  userId: string,
  pointUuid: string,
  dueAt: number,
): Promise<number> {
  const journey = await store.journeys.findByUuid(journeyUuid);
  assert.ok(journey);
  const now = Date.now();
  const row = await store.backend.db
    .insertInto('runs')
    .values({
      journey_id: journey.id,
      application_id: journey.applicationId,
      user_id: userId,
      point_uuid: pointUuid,
      waiting_point: pointUuid,
      state: 'active',
      due_at: dueAt,
      attributes: '{}',
      entry_request_id: null,
      entered_at: now,
      updated_at: now,
      lease_owner: null,
      lease_expires_at: null,
      exited_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}
