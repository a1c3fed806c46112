import { parseFaultArming, type FaultArming } from './fault-points.js';

/** Process settings, read once from the environment (docs/deployment.md). */
export interface Config {
  readonly databaseUrl: string;
  readonly host: string;
  readonly port: number;
  readonly bootstrapApp: string;
  readonly bootstrapToken: string | undefined;
  readonly logLevel: string;
  /** Role worker only: the port of its metrics-only HTTP listener; none when undefined. */
  readonly metricsPort: number | undefined;
  /** How long a graceful shutdown may take before the process exits with an error. */
  readonly shutdownTimeoutMs: number;
  /** JOURNEYD_WEBHOOK_ALLOW as given: the networks and hosts webhooks may call beyond the default policy (docs/deployment.md). */
  readonly webhookAllowList: string;
  /** Test-only (JOURNEYD_FAULT): the fault point at which the process kills itself (src/fault-points.ts). */
  readonly fault: FaultArming | undefined;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    databaseUrl: env.JOURNEYD_DATABASE_URL || 'sqlite:./data/journeyd.db',
    host: env.HOST || '127.0.0.1',
    port: parsePort('PORT', env.PORT) ?? 8080,
    bootstrapApp: env.JOURNEYD_BOOTSTRAP_APP || 'DEMO0-00000',
    bootstrapToken: env.JOURNEYD_BOOTSTRAP_TOKEN || undefined,
    logLevel: env.LOG_LEVEL || 'info',
    metricsPort: parsePort('METRICS_PORT', env.METRICS_PORT),
    shutdownTimeoutMs: parseMilliseconds('JOURNEYD_SHUTDOWN_TIMEOUT_MS', env.JOURNEYD_SHUTDOWN_TIMEOUT_MS) ?? 30_000,
    webhookAllowList: env.JOURNEYD_WEBHOOK_ALLOW ?? '',
    fault: parseFaultArming(env.JOURNEYD_FAULT),
  };
}

function parsePort(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be an integer from 0 to 65535, got "${raw}"`);
  }
  return port;
}

function parseMilliseconds(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`${name} must be a positive integer (milliseconds), got "${raw}"`);
  return ms;
}
