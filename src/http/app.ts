import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { WebhookDestinationPolicy } from '../domain/webhook-destination.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';

/** The fastify instance every route plugin registers on (server.ts builds it). */
export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

/** What every route plugin is handed. */
export interface AppDeps {
  readonly store: Store;
  readonly logger: Logger;
  /** When given, every request is counted and timed, and `GET /metrics` serves them to the metrics token (ServerOptions). */
  readonly metrics?: HttpMetrics;
  /** Where webhooks may go, checked when a journey starts; WebhookDestinationPolicy.STRICT when omitted. */
  readonly webhookDestinations?: WebhookDestinationPolicy;
}

/** What the HTTP layer reports and serves (src/service/metrics.ts implements it). */
export interface HttpMetrics {
  requestAnswered(method: string, route: string, statusCode: number, seconds: number): void;
  /** Every metric of the process in the Prometheus text format, with its content type. */
  exposition(): Promise<{ contentType: string; body: string }>;
}
