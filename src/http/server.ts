import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from '../config.js';
import type { App, AppDeps } from './app.js';
import { answerClientError } from './client-errors.js';
import { deviceApiRoutes } from './device-api/index.js';
import { DeferredChildLogger } from './deferred-logger.js';
import { describeError } from './errors.js';
import { refuseUnstorableText } from './input-guard.js';
import { formatApiSchemaErrors } from './schema-errors.js';
import { jsonBodyParser } from './json-body.js';
import { registerOpenApi } from './openapi.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { messageRoutes } from './routes/messages.js';
import { startExternalRoutes } from './routes/start-external.js';
import { statisticsRoutes } from './routes/statistics.js';
import { journeyRoutes } from './routes/journeys.js';
import { dropUsersRoutes } from './routes/drop-users.js';

export const BODY_LIMIT_BYTES = 8 * 1024 * 1024;

/** The route label of requests that matched no route, so raw URLs never become label values. */
export const UNMATCHED_ROUTE = 'unmatched';

const JOURNEY_ROUTES = '/api/journey/:id/';

/** How often Node looks for requests past their timeout: a timeout fires up to this much after its value. */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

export interface ServerOptions {
  readonly limits: HttpLimits;
  /** With metrics given, `GET /metrics` is served to `Authorization: Bearer <metricsToken>` alone; without the token, not at all. */
  readonly metricsToken?: string;
}

/**
 * Log fields naming the journey (and Start-by-API request) a `/api/journey/:id/…`
 * route addresses, so every line its handler or the error handler writes can be found by them.
 */
function journeyLogFields(params: unknown): { journey_id?: unknown; request_uuid?: unknown } {
  const { id, request_uuid } = (params ?? {}) as { id?: unknown; request_uuid?: unknown };
  return request_uuid === undefined ? { journey_id: id } : { journey_id: id, request_uuid };
}

/** Every error reply: `{code, message}` with the status; a 5xx is logged with its stack. */
function replyWithError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { headers, ...body } = describeError(error);
  if (body.code >= 500) request.log.error({ err: error }, 'request failed');
  void reply.code(body.code).headers(headers).send(body);
}

export function buildServer(deps: AppDeps, options: ServerOptions = { limits: DEFAULT_HTTP_LIMITS }): App {
  const { limits } = options;
  // Typed as fastify's logger, so that the instance is an `App` and not one typed by pino's Logger.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    childLoggerFactory: (logger, bindings, options) => new DeferredChildLogger(logger, bindings, options),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Refusals made before routing (a malformed URL, an over-long parameter) and by Node's parser get the same shape.
    frameworkErrors: replyWithError,
    clientErrorHandler: answerClientError,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    // Wrong types must be reported, never silently coerced ("123" for 123 or the reverse).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    schemaErrorFormatter: formatApiSchemaErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.server.maxConnections = limits.maxConnections;
  app.decorateRequest('grant', null);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser(app));
  app.addHook('preValidation', refuseUnstorableText);
  // Before any route, so that the document has every one.
  registerOpenApi(app);

  const { metrics } = deps;
  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
      metrics.requestAnswered(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    });
    if (options.metricsToken !== undefined) app.register(metricsRoutes, { metrics, token: options.metricsToken });
  }
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.routeOptions.url?.startsWith(JOURNEY_ROUTES)) {
      request.log = request.log.child(journeyLogFields(request.params));
    }
    done();
  });

  app.setErrorHandler(replyWithError);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ code: 404, message: `no route for ${request.method} ${request.url.split('?')[0]}` }),
  );

  app.register(healthRoutes, deps);
  app.register(messageRoutes, deps);
  app.register(startExternalRoutes, deps);
  app.register(statisticsRoutes, deps);
  app.register(journeyRoutes, deps);
  app.register(dropUsersRoutes, deps);
  app.register(deviceApiRoutes, deps);
  return app;
}
