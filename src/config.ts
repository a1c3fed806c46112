/** Process settings, read once from the environment (CONTRACT §1). */
export interface Config {
  readonly databaseUrl: string;
  readonly host: string;
  readonly port: number;
  readonly bootstrapApp: string;
  readonly bootstrapToken: string | undefined;
  readonly logLevel: string;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    databaseUrl: env.JOURNEYD_DATABASE_URL || 'sqlite:./data/journeyd.db',
    host: env.HOST || '127.0.0.1',
    port: parsePort(env.PORT),
    bootstrapApp: env.JOURNEYD_BOOTSTRAP_APP || 'DEMO0-00000',
    bootstrapToken: env.JOURNEYD_BOOTSTRAP_TOKEN || undefined,
    logLevel: env.LOG_LEVEL || 'info',
  };
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 8080;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got "${raw}"`);
  }
  return port;
}
