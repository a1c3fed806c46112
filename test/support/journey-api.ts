import assert from 'node:assert/strict';
import type { Journey, JourneyStatus, PointDraft } from '../../src/domain/journey.js';
import type { LifecycleAction } from '../../src/domain/lifecycle.js';
import type { TestContext } from './app.js';
import { TEST_APP_CODE } from './app.js';
import { minimalPoints } from './journey-fixtures.js';

/** A create/PUT body for the test application. */
export function journeyBody(points: PointDraft[] = minimalPoints(), title = 'Onboarding'): Record<string, unknown> {
  return { title, params: { application_code: TEST_APP_CODE }, points };
}

export function authorization(token: string): Record<string, string> {
  return { authorization: `Api ${token}` };
}

/** Creates a journey through the API and returns it; fails the test on any other answer. */
export async function createJourney(
  ctx: TestContext,
  body: Record<string, unknown> = journeyBody(),
  headers: Record<string, string> = {},
): Promise<Journey> {
  const res = await ctx.request({ method: 'POST', url: '/api/v3/journeygateway', payload: body, headers });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Journey>();
}

export async function readJourney(ctx: TestContext, uuid: string, headers: Record<string, string> = {}): Promise<Journey> {
  const res = await ctx.request({ method: 'GET', url: `/api/v3/journeygateway/${uuid}`, headers });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Journey>();
}

export function transition(ctx: TestContext, action: LifecycleAction, uuid: string, headers: Record<string, string> = {}) {
  return ctx.request({ method: 'POST', url: `/api/v3/journeygateway/${action}`, payload: { uuid }, headers });
}

/** Applies the actions in order, each of which must succeed. */
export async function drive(ctx: TestContext, uuid: string, actions: readonly LifecycleAction[]): Promise<void> {
  for (const action of actions) {
    const res = await transition(ctx, action, uuid);
    assert.equal(res.statusCode, 200, `${action}: ${res.body}`);
  }
}

/** The actions that bring a new draft into each status. */
const PATH_TO: Record<JourneyStatus, LifecycleAction[]> = {
  STATUS_DRAFT: [],
  STATUS_RUNNING: ['start'],
  STATUS_PAUSED: ['start', 'pause'],
  STATUS_FINISHED: ['start', 'finish'],
  STATUS_ARCHIVED: ['archive'],
};

/** A new journey of `points` brought into `status` through the API; returns its uuid. */
export async function journeyInStatus(ctx: TestContext, status: JourneyStatus, points: PointDraft[] = minimalPoints()): Promise<string> {
  const { info } = await createJourney(ctx, journeyBody(points));
  await drive(ctx, info.uuid, PATH_TO[status]);
  assert.equal((await readJourney(ctx, info.uuid)).info.status, status);
  return info.uuid;
}

export async function countJourneys(ctx: TestContext): Promise<number> {
  const row = await ctx.store.backend.db
    .selectFrom('journeys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A second application with its own API token, granted nothing else. */
export async function otherTenant(ctx: TestContext, code: string, token: string): Promise<Record<string, string>> {
  const application = await ctx.store.applications.create(code, code);
  await ctx.store.applications.createToken(token, 'api', code, [application.id]);
  return authorization(token);
}
