import { parseFaultArming, type FaultArming } from './fault-points.js';

/** The API server's bounds on what one client may hold (docs/deployment.md, "HTTP limits"). */
export interface HttpLimits {
  /** Longest time to receive a whole request, headers and body; then 408 and the connection is closed. */
  readonly requestTimeoutMs: number;
  /** Longest time to receive a request's headers (at most `requestTimeoutMs`). */
  readonly headersTimeoutMs: number;
  /** How long a kept-alive connection may wait idle for its next request. */
  readonly keepAliveTimeoutMs: number;
  /** A connection on which nothing moves either way for this long is closed, a client that stops reading its reply included. */
  readonly idleTimeoutMs: number;
  /** Connections open at once; the server closes any beyond them as soon as it accepts it. */
  readonly maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 72_000,
  idleTimeoutMs: 60_000,
  maxConnections: 10_000,
};

/** Process settings, read once from the environment (docs/deployment.md). */
export interface Config {
  readonly databaseUrl: string;
  readonly host: string;
  readonly port: number;
  readonly bootstrapApp: string;
  readonly bootstrapToken: string | undefined;
  readonly logLevel: string;
  readonly http: HttpLimits;
  /** The port of a listener serving `GET /metrics` alone, without authentication; none when undefined. */
  readonly metricsPort: number | undefined;
  /** Where that listener binds (a private interface, typically); HOST when unset. */
  readonly metricsHost: string;
  /** The bearer token `GET /metrics` on the API port demands; undefined: the API port does not serve it. */
  readonly metricsToken: string | undefined;
  /** How long a graceful shutdown may take before the process exits with an error. */
  readonly shutdownTimeoutMs: number;
  /** JOURNEYD_WEBHOOK_ALLOW as given: the networks and hosts webhooks may call beyond the default policy (docs/deployment.md). */
  readonly webhookAllowList: string;
  /** Test-only (JOURNEYD_FAULT): the fault point at which the process kills itself (src/fault-points.ts). */
  readonly fault: FaultArming | undefined;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const host = env.HOST || '127.0.0.1';
  return {
    databaseUrl: env.JOURNEYD_DATABASE_URL || 'sqlite:./data/journeyd.db',
    host,
    port: parsePort('PORT', env.PORT) ?? 8080,
    bootstrapApp: env.JOURNEYD_BOOTSTRAP_APP || 'DEMO0-00000',
    bootstrapToken: env.JOURNEYD_BOOTSTRAP_TOKEN || undefined,
    logLevel: env.LOG_LEVEL || 'info',
    http: readHttpLimits(env),
    metricsPort: parsePort('METRICS_PORT', env.METRICS_PORT),
    metricsHost: env.METRICS_HOST || host,
    metricsToken: env.JOURNEYD_METRICS_TOKEN || undefined,
    shutdownTimeoutMs: parsePositiveInteger('JOURNEYD_SHUTDOWN_TIMEOUT_MS', env.JOURNEYD_SHUTDOWN_TIMEOUT_MS, 'milliseconds') ?? 30_000,
    webhookAllowList: env.JOURNEYD_WEBHOOK_ALLOW ?? '',
    fault: parseFaultArming(env.JOURNEYD_FAULT),
  };
}

function readHttpLimits(env: NodeJS.ProcessEnv): HttpLimits {
  const setting = (name: string, fallback: number) => parsePositiveInteger(name, env[name], 'milliseconds') ?? fallback;
  const limits: HttpLimits = {
    requestTimeoutMs: setting('JOURNEYD_HTTP_REQUEST_TIMEOUT_MS', DEFAULT_HTTP_LIMITS.requestTimeoutMs),
    headersTimeoutMs: setting('JOURNEYD_HTTP_HEADERS_TIMEOUT_MS', DEFAULT_HTTP_LIMITS.headersTimeoutMs),
    keepAliveTimeoutMs: setting('JOURNEYD_HTTP_KEEP_ALIVE_TIMEOUT_MS', DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs),
    idleTimeoutMs: setting('JOURNEYD_HTTP_IDLE_TIMEOUT_MS', DEFAULT_HTTP_LIMITS.idleTimeoutMs),
    maxConnections:
      parsePositiveInteger('JOURNEYD_HTTP_MAX_CONNECTIONS', env.JOURNEYD_HTTP_MAX_CONNECTIONS, 'connections') ??
      DEFAULT_HTTP_LIMITS.maxConnections,
  };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new Error(
      `JOURNEYD_HTTP_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs}) must not exceed JOURNEYD_HTTP_REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs})`,
    );
  }
  return limits;
}

function parsePort(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be an integer from 0 to 65535, got "${raw}"`);
  }
  return port;
}

function parsePositiveInteger(name: string, raw: string | undefined, unit: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer (${unit}), got "${raw}"`);
  return value;
}
