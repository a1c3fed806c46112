import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { compileEntryAttributes, mergeAttributeValues } from '../../domain/attributes.js';
import { SeglangError } from '../../domain/seglang/index.js';
import {
  apiEntryPointOf,
  filterMessage,
  firstUnknownAttribute,
  readStartRequest,
  START_MESSAGES,
  type ApiEntryPoint,
  type StartRequest,
} from '../../domain/start-request.js';
import { isUuid } from '../../domain/uuid.js';
import type { EntryRequestView, StoredSelector } from '../../store/entry/index.js';
import type { Store } from '../../store/store.js';
import type { App, AppDeps } from '../app.js';
import { authenticate, grantOf } from '../auth.js';
import { badRequest, HttpError, notFound } from '../errors.js';
import { jsonBodyParser } from '../json-body.js';
import { findVisible, findVisibleJourney } from '../visible-journey.js';
import { errorReplies, SECURITY } from '../openapi.js';

const JourneyParams = Type.Object({ id: Type.String() });
const RequestParams = Type.Object({ id: Type.String(), request_uuid: Type.String() });

// The body's gross shape only; its fields are checked by hand so that failures come in the order of docs/start-by-api.md.
const StartBody = Type.Object(
  { payload: Type.Optional(Type.Unknown()), attribute_values: Type.Optional(Type.Unknown()) },
  { additionalProperties: true },
);

const Accepted = Type.Object({ request_uuid: Type.String() });

const RequestStatus = Type.Object({
  request_uuid: Type.String(),
  status: Type.Union([Type.Literal('queued'), Type.Literal('processing'), Type.Literal('done'), Type.Literal('failed')]),
  selected: Type.Integer(),
  entered: Type.Integer(),
  skipped: Type.Object({ unknown: Type.Integer(), already_in_journey: Type.Integer() }),
  created_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
  error: Type.Optional(Type.String()),
});

/**
 * `POST /api/journey/{id}/start/external` (docs/start-by-api.md): authenticate, then
 * checks 1–10 in order, then the request is committed and its uuid returned;
 * the entry worker enters the users. `GET …/start/external/{request_uuid}`
 * reports its progress.
 */
export async function startExternalRoutes(app: App, { store }: AppDeps): Promise<void> {
  keepRawJsonBodies(app);
  const authenticated = { onRequest: authenticate(store, ['Api']) };

  app.post(
    '/api/journey/:id/start/external',
    {
      ...authenticated,
      schema: {
        tags: ['start by API'],
        summary: 'Enter users into a running journey at its START_BY_API point',
        description:
          'The body is `{"payload": {"users" | "hwids" | "filter": …, "attribute_values"?: {…}}}` (docs/start-by-api.md); ' +
          'it is checked in the documented order and the first problem is the 400. One accepted request a minute per entry point; ' +
          'a refused one is a 400 with Retry-After.',
        security: [SECURITY.api],
        params: JourneyParams,
        body: StartBody,
        response: { 200: Accepted, ...errorReplies([400, 401, 404, 413]) },
      },
    },
    async (request) => {
      const parsed = readStartRequest(request.body, rawJsonBodies.get(request));
      if (!parsed.ok) throw badRequest(parsed.error);
      // Check 4.
      const target = await findVisible(grantOf(request), request.params.id, (uuid) => store.journeys.findEntryTarget(uuid));
      const entry = apiEntryPointOf(target.status, target.points);
      if (!entry.ok) throw badRequest(entry.error);
      const unknown = firstUnknownAttribute(entry.value, parsed.value.attributeValues);
      if (unknown !== undefined) throw badRequest(START_MESSAGES.unknownAttribute(unknown));
      await checkFilterAgainstTags(store, target.applicationId, parsed.value);

      const outcome = await store.entry.accept({
        journeyId: target.id,
        applicationId: target.applicationId,
        pointUuid: entry.value.uuid,
        selector: storedSelector(parsed.value),
        attributes: entryAttributes(entry.value, parsed.value),
      });
      if (!outcome.accepted) {
        const retryAfter = String(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)));
        throw new HttpError(400, START_MESSAGES.rateLimited, { 'Retry-After': retryAfter });
      }
      return { request_uuid: outcome.requestUuid };
    },
  );

  app.get(
    '/api/journey/:id/start/external/:request_uuid',
    {
      ...authenticated,
      schema: {
        tags: ['start by API'],
        summary: 'Follow a Start-by-API request',
        security: [SECURITY.api],
        params: RequestParams,
        response: { 200: RequestStatus, ...errorReplies([401, 404]) },
      },
    },
    async (request) => {
      const stored = await findVisibleJourney(store, grantOf(request), request.params.id);
      const uuid = request.params.request_uuid;
      const view = isUuid(uuid) ? await store.entry.findRequest(stored.id, uuid.toLowerCase()) : undefined;
      if (!view) throw notFound(`start request ${uuid} not found in journey ${stored.journey.info.uuid}`);
      return statusBody(view);
    },
  );
}

/**
 * A filter that parses may still compare a tag with a value of the wrong type
 * (`T("Age", eq, "old")` for an Integer tag), which only the application's tag
 * declarations tell: checked here, after check 9 and before the rate limit, so
 * that such a request is refused rather than accepted and then failed.
 */
async function checkFilterAgainstTags(store: Store, applicationId: number, request: StartRequest): Promise<void> {
  if (request.selector.kind !== 'filter') return;
  try {
    await store.audience.compile(applicationId, request.selector.expression);
  } catch (error) {
    if (error instanceof SeglangError) throw badRequest(filterMessage(error));
    throw error;
  }
}

function storedSelector({ selector }: StartRequest): StoredSelector {
  return selector.kind === 'filter' ? { kind: 'filter', filter: selector.filter } : selector;
}

/** The request's values over the point's defaults; every configured attribute is present. */
function entryAttributes(point: ApiEntryPoint, request: StartRequest): Record<string, string> {
  const compiled = compileEntryAttributes(point.point_data.start_by_api.attributes);
  // A running journey's points passed `start`'s validation, which compiles these same attributes.
  if (!compiled.ok) throw new Error(`running journey has invalid API entry attributes: ${compiled.error}`);
  return mergeAttributeValues(compiled.value, Object.fromEntries(request.attributeValues));
}

function statusBody(view: EntryRequestView) {
  return {
    request_uuid: view.uuid,
    status: view.status,
    selected: view.selected,
    entered: view.entered,
    skipped: { unknown: view.skippedUnknown, already_in_journey: view.skippedAlready },
    created_at: new Date(view.createdAt).toISOString(),
    finished_at: view.finishedAt === null ? null : new Date(view.finishedAt).toISOString(),
    ...(view.error === null ? {} : { error: view.error }),
  };
}

const rawJsonBodies = new WeakMap<FastifyRequest, string>();

/**
 * Within this plugin only, JSON bodies are parsed by the server's own parser
 * (`jsonBodyParser`: same limits and checks) and their text is kept, so that
 * "the first unknown attribute in request order" is exact even for
 * integer-like names, which a parsed object enumerates first.
 */
function keepRawJsonBodies(app: App): void {
  const parseJson = jsonBodyParser(app);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    rawJsonBodies.set(request, body as string);
    void parseJson(request, body as string, done);
  });
}
