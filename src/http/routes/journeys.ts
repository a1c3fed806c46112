import { randomUUID } from 'node:crypto';
import type { JourneyStatus, Point, PointDraft } from '../../domain/journey.js';
import { describePoint, filterFieldsOf, journeyParamsProblem, validateJourneyForStart } from '../../domain/journey-validation/index.js';
import { parseSeglang, SeglangError } from '../../domain/seglang/index.js';
import type { WebhookDestinationPolicy } from '../../domain/webhook-destination.js';
import {
  deleteRefusal,
  DELETABLE_STATUSES,
  editRefusal,
  EDITABLE_STATUSES,
  LIFECYCLE_ACTIONS,
  planTransition,
  type LifecycleAction,
} from '../../domain/lifecycle.js';
import type { TokenGrant } from '../../store/applications/index.js';
import type { JourneyDefinition, StoredJourney } from '../../store/journeys/index.js';
import type { Store } from '../../store/store.js';
import { authenticate, grantOf } from '../auth.js';
import type { App, AppDeps } from '../app.js';
import { badRequest, HttpError } from '../errors.js';
import { errorReplies, SECURITY, type ErrorStatus } from '../openapi.js';
import { pagedReply, pageWindow, parsePage } from '../paging.js';
import { findVisibleJourney } from '../visible-journey.js';
import {
  Deleted,
  JourneyBodySchema,
  JourneyList,
  JourneyObject,
  JourneyUuidBody,
  JourneyUuidParams,
  ListQuery,
  TITLE_MAX_LENGTH,
  type JourneyBody,
} from './journey-schemas.js';

/** Journeys per page of `GET /api/journey`. */
export const JOURNEY_PAGE_SIZE = 20;
/** A transition re-reads and retries when another write lands between its read and its update. */
const MAX_TRANSITION_ATTEMPTS = 3;

const COPY_SUFFIX = ' (copy)';

/** `<title> (copy)`, the title cut so that the whole stays within TITLE_MAX_LENGTH characters. */
function copyTitle(title: string): string {
  return [...title].slice(0, TITLE_MAX_LENGTH - COPY_SUFFIX.length).join('') + COPY_SUFFIX;
}

const TAGS = ['journeys'];
const security = [SECURITY.api];
const journeyReply = (...errors: ErrorStatus[]) => ({ 200: JourneyObject, ...errorReplies([401, ...errors]) });

const LIFECYCLE_SUMMARIES: Record<LifecycleAction, string> = {
  start: 'Start a journey (after the check of its points and wiring)',
  pause: 'Pause a running journey',
  finish: 'Finish a journey: its users leave it',
  draft: 'Take a paused journey back to STATUS_DRAFT: its users leave it',
  archive: 'Archive a draft or finished journey',
};

/** Journey definitions, the journey list, and lifecycle transitions (docs/journeys.md). */
export async function journeyRoutes(app: App, { store, webhookDestinations }: AppDeps): Promise<void> {
  const onRequest = authenticate(store, ['Api']);

  app.post(
    '/api/v3/journeygateway',
    {
      onRequest,
      schema: {
        tags: TAGS,
        summary: 'Create a journey (STATUS_DRAFT)',
        security,
        body: JourneyBodySchema,
        response: journeyReply(400, 413),
      },
    },
    async (request) => {
      const grant = grantOf(request);
      const definition = definitionOf(request.body);
      const code = definition.params.application_code;
      const application = await store.applications.findByCode(code);
      if (!application || !grant.applicationIds.has(application.id)) {
        throw badRequest(`params.application_code: ${code} is not an application this token is granted`);
      }
      const created = await store.journeys.create(randomUUID(), application.id, definition);
      return created.journey;
    },
  );

  app.get(
    '/api/v3/journeygateway/:uuid',
    { onRequest, schema: { tags: TAGS, summary: 'Read a journey', security, params: JourneyUuidParams, response: journeyReply(404) } },
    async (request) => {
      const stored = await findVisibleJourney(store, grantOf(request), request.params.uuid);
      return stored.journey;
    },
  );

  app.put(
    '/api/v3/journeygateway/:uuid',
    {
      onRequest,
      schema: {
        tags: TAGS,
        summary: 'Replace a journey in STATUS_DRAFT or STATUS_PAUSED',
        security,
        params: JourneyUuidParams,
        body: JourneyBodySchema,
        response: journeyReply(400, 404, 409, 413),
      },
    },
    async (request) => {
      const grant = grantOf(request);
      const current = await findVisibleJourney(store, grant, request.params.uuid);
      const refusal = editRefusal(current.journey.info.status);
      if (refusal) throw badRequest(refusal);
      const definition = definitionOf(request.body);
      const ownCode = current.journey.info.params.application_code;
      if (definition.params.application_code !== ownCode) {
        throw badRequest(`params.application_code cannot change: this journey belongs to ${ownCode}`);
      }
      const replaced = await store.journeys.replace(current.id, definition, EDITABLE_STATUSES);
      if (replaced) return replaced.journey;
      // The status changed between the read and the write; answer for the status that won.
      const latest = await findVisibleJourney(store, grant, request.params.uuid);
      const latestRefusal = editRefusal(latest.journey.info.status);
      throw latestRefusal ? badRequest(latestRefusal) : new HttpError(409, 'the journey changed while it was saved; retry');
    },
  );

  app.delete(
    '/api/v3/journeygateway/:uuid',
    {
      onRequest,
      schema: {
        tags: TAGS,
        summary: 'Delete a draft or archived journey, with everything it left behind',
        security,
        params: JourneyUuidParams,
        response: { 200: Deleted, ...errorReplies([400, 401, 404, 409]) },
      },
    },
    async (request) => {
      const grant = grantOf(request);
      for (let attempt = 0; attempt < MAX_TRANSITION_ATTEMPTS; attempt++) {
        const current = await findVisibleJourney(store, grant, request.params.uuid);
        const refusal = deleteRefusal(current.journey.info.status);
        if (refusal) throw badRequest(refusal);
        if (await store.journeys.delete(current, DELETABLE_STATUSES)) return { uuid: current.journey.info.uuid, deleted: true as const };
      }
      throw new HttpError(409, `journey ${request.params.uuid} kept changing while trying to delete it; retry`);
    },
  );

  app.post(
    '/api/v3/journeygateway/:uuid/duplicate',
    {
      onRequest,
      schema: {
        tags: TAGS,
        summary: 'Copy a journey, in any status, into a new draft',
        security,
        params: JourneyUuidParams,
        response: journeyReply(404),
      },
    },
    async (request) => {
      const { applicationId, journey } = await findVisibleJourney(store, grantOf(request), request.params.uuid);
      const copy = await store.journeys.create(randomUUID(), applicationId, {
        title: copyTitle(journey.info.title),
        params: journey.info.params,
        points: journey.points,
      });
      return copy.journey;
    },
  );

  app.get(
    '/api/journey',
    {
      onRequest,
      schema: {
        tags: TAGS,
        summary: "List the journeys of the token's applications, newest first",
        security,
        querystring: ListQuery,
        response: { 200: JourneyList, ...errorReplies([400, 401]) },
      },
    },
    async (request) => {
      const page = parsePage(request.query.page);
      const { total, items } = await store.journeys.listForApplications(
        [...grantOf(request).applicationIds],
        pageWindow(page, JOURNEY_PAGE_SIZE),
        // The schema's enum has admitted only JOURNEY_STATUSES.
        request.query.status as JourneyStatus | undefined,
      );
      return pagedReply(
        page,
        JOURNEY_PAGE_SIZE,
        total,
        items.map((item) => ({ id: item.uuid, title: item.title, status: item.status, createdAt: new Date(item.createdAt).toISOString() })),
      );
    },
  );

  for (const action of LIFECYCLE_ACTIONS) {
    app.post(
      `/api/v3/journeygateway/${action}`,
      {
        onRequest,
        schema: {
          tags: TAGS,
          summary: LIFECYCLE_SUMMARIES[action],
          security,
          body: JourneyUuidBody,
          response: journeyReply(400, 404, 409),
        },
      },
      async (request) => {
        const moved = await applyLifecycleAction(store, grantOf(request), request.body.uuid, action, webhookDestinations);
        return moved.journey;
      },
    );
  }
}

/**
 * Reads, checks and moves the journey; if another write lands between the read
 * and the compare-and-set update, reads again so the answer reflects it.
 */
async function applyLifecycleAction(
  store: Store,
  grant: TokenGrant,
  uuid: string,
  action: LifecycleAction,
  webhookDestinations: WebhookDestinationPolicy | undefined,
): Promise<StoredJourney> {
  for (let attempt = 0; attempt < MAX_TRANSITION_ATTEMPTS; attempt++) {
    const current = await findVisibleJourney(store, grant, uuid);
    const plan = planTransition(action, current.journey.info.status);
    if (!plan.ok) throw badRequest(plan.error);
    if (plan.value.to === 'STATUS_RUNNING') {
      const validation = validateJourneyForStart(current.journey.info.uuid, current.journey.points, webhookDestinations);
      if (!validation.ok) throw badRequest(validation.error);
      const filterProblem = await filterTypeProblem(store, current.applicationId, validation.value);
      if (filterProblem) throw badRequest(filterProblem);
    }
    const moved = await store.journeys.transition(current, plan.value.to);
    if (moved) return moved;
  }
  throw new HttpError(409, `journey ${uuid} kept changing while trying to ${action} it; retry`);
}

/**
 * The first filter whose values cannot match the types the application
 * declared for its tags (`T("Plan", eq, true)` on a String tag, which would
 * send every run to `default`), as `point "…" (uuid): boolean_splitter.filter: why`.
 * A tag not declared yet is not a problem: it is set on no device until it is.
 */
async function filterTypeProblem(store: Store, applicationId: number, points: readonly Point[]): Promise<string | undefined> {
  for (const point of points) {
    for (const { path, filter } of filterFieldsOf(point)) {
      try {
        await store.audience.compile(applicationId, parseSeglang(filter));
      } catch (error) {
        if (error instanceof SeglangError) return `${describePoint(point)}: ${path}: ${error.message}`;
        throw error;
      }
    }
  }
  return undefined;
}

function definitionOf(body: JourneyBody): JourneyDefinition {
  const { title, params, points } = body;
  const problem = journeyParamsProblem(params);
  if (problem) throw badRequest(problem);
  // The schema's enum has admitted only POINT_TYPES as point_type.
  return { title, params, points: points as PointDraft[] };
}
