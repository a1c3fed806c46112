import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Application } from '../../store/applications/index.js';
import type { Store } from '../../store/store.js';
import { authenticate, grantOf } from '../auth.js';
import { badRequest } from '../errors.js';
import type { App, AppDeps } from '../app.js';
import { SECURITY, errorReplies } from '../openapi.js';
import { ErrorEnvelopeSchema, formatSchemaErrors, okEnvelope, OkEnvelopeSchema, replyWithErrorEnvelope } from './envelope.js';
import { ApplicationCode } from './fields.js';

export const DEVICE_API_PREFIX = '/json/1.3';
export const DEVICE_API_TAGS = ['device API'];
/** Apps call with their device API token, servers with their server API token. */
export const DEVICE_API_SECURITY = [SECURITY.device, SECURITY.api];

/** What a method's handler gets: its validated `request` object and the application it names. */
export interface DeviceApiCall<Request> {
  readonly request: Request;
  /** The application named by `request.application`, already checked against the token's grants. */
  readonly application: Application;
  readonly store: Store;
}

/** A method's validated `request` object: its own fields and the `application` code. */
export type DeviceApiRequest<Fields extends TProperties> = Static<TObject<Fields>> & { readonly application: string };

export interface DeviceApiMethodDefinition<Fields extends TProperties> {
  /** The path segment after /json/1.3/, e.g. "registerDevice". */
  readonly name: string;
  /** What the method does, in a line (the OpenAPI document's summary). */
  readonly summary: string;
  /** The `request` object's fields besides `application`, which every method has. */
  readonly fields: Fields;
  /** Returns the envelope's `response`; throws HttpError (400 → status_code 210) to refuse. */
  handle(call: DeviceApiCall<DeviceApiRequest<Fields>>): Promise<unknown>;
}

/** Registers one method on an app; what `deviceApiMethod` returns. */
export type DeviceApiRoute = (app: App, deps: AppDeps) => void;

/**
 * Defines one `POST /json/1.3/<name>` method with everything every Device API
 * method shares: the `{"request": {...}}` body schema (with `application`),
 * `Token`/`Api` authentication, the application grant check, the
 * `{"status_code", "status_message", "response"}` envelope and the error
 * envelope. The route carries its own error handler, so the returned route
 * can be registered from any plugin: `createFilter(app, deps)`.
 */
export function deviceApiMethod<Fields extends TProperties>(definition: DeviceApiMethodDefinition<Fields>): DeviceApiRoute {
  const requestSchema = Type.Object({ application: ApplicationCode, ...definition.fields });
  const bodySchema = Type.Object({ request: requestSchema });

  return (app, { store }) => {
    app.post(
      `${DEVICE_API_PREFIX}/${definition.name}`,
      {
        schema: {
          tags: DEVICE_API_TAGS,
          summary: definition.summary,
          security: DEVICE_API_SECURITY,
          body: bodySchema,
          response: { 200: OkEnvelopeSchema, ...errorReplies([400, 401, 413], ErrorEnvelopeSchema) },
        },
        // onRequest, not preHandler: a caller without a valid token learns nothing about the body's validity.
        onRequest: authenticate(store, ['Token', 'Api']),
        errorHandler: replyWithErrorEnvelope,
        schemaErrorFormatter: formatSchemaErrors,
      },
      async (httpRequest) => {
        // bodySchema validated the body; the type provider cannot infer a schema built from a generic.
        const request = (httpRequest.body as { request: DeviceApiRequest<Fields> }).request;
        const application = await grantedApplication(store, httpRequest, request.application);
        return okEnvelope(await definition.handle({ request, application, store }));
      },
    );
  };
}

/**
 * The application a request names, if the token is granted it. An application
 * that does not exist and one the token is not granted get the same answer, so
 * a token cannot probe for other tenants' application codes.
 */
async function grantedApplication(store: Store, request: FastifyRequest, code: string): Promise<Application> {
  const application = await store.applications.findByCode(code);
  if (!application || !grantOf(request).applicationIds.has(application.id)) {
    throw badRequest(`request.application "${code}" is not an application this token may use`);
  }
  return application;
}
