import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyBaseLogger } from 'fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { deviceApiRoutes } from './device-api/index.js';
import { HttpError } from './errors.js';
import { healthRoutes } from './routes/health.js';
import { messageRoutes } from './routes/messages.js';
import { startExternalRoutes } from './routes/start-external.js';
import { statisticsRoutes } from './routes/statistics.js';
import { journeyRoutes } from './routes/journeys.js';
import { dropUsersRoutes } from './routes/drop-users.js';

export const BODY_LIMIT_BYTES = 8 * 1024 * 1024;

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface AppDeps {
  readonly store: Store;
  readonly logger: Logger;
}

/** Every error reply, whatever its source: `{"code", "message"}` with the HTTP status. */
export interface ErrorBody {
  code: number;
  message: string;
}

/** Maps any thrown error to a status and a message a client can act on; never leaks internals on 5xx. */
export function describeError(error: unknown): ErrorBody & { headers: Record<string, string> } {
  if (error instanceof HttpError) return { code: error.statusCode, message: error.message, headers: { ...error.headers } };
  const e = error as Partial<FastifyError>;
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { code: e.statusCode, message: e.message ?? 'bad request', headers: {} };
  }
  return { code: 500, message: 'internal error', headers: {} };
}

export function buildServer(deps: AppDeps): App {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Wrong types must be reported, never silently coerced ("123" for 123 or the reverse).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('grant', null);

  app.setErrorHandler((error, request, reply) => {
    const { headers, ...body } = describeError(error);
    if (body.code >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(body.code).headers(headers).send(body);
  });
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
