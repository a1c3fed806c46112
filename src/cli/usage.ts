/** Each command's lines of the usage, in the order `journeyd --help` shows them. */
export const COMMAND_USAGE: Readonly<Record<string, string>> = {
  serve: `  serve [--role all|api|worker]       run the API and/or the workers (default: all)`,
  migrate: `  migrate                             create the database or apply pending migrations`,
  apps: `  apps create [--code CODE] [--name NAME]
                                      create an application
  apps list                           every application's code and name`,
  tokens: `  tokens create|list|revoke|rotate    issue, show and withdraw tokens (docs/operations.md):
    tokens create --app CODE [--app CODE ...] [--kind api|device] [--name NAME]
                                      print a new token granted to the applications
    tokens list                       every token's id, kind, name and applications
    tokens revoke TOKEN | --id ID     withdraw a token; every process refuses it within 5 s
    tokens rotate CODE [--kind api|device] [--name NAME]
                                      print a new token for the application; its other
                                      tokens of that kind stop acting on it within 5 s`,
  devices: `  devices import FILE --app CODE [--format csv|ndjson] [--batch-size N]
                                      import devices from CSV or NDJSON (docs/import.md)`,
  channels: `  channels list|set|reset --app CODE [--channel C] [--provider P] [--config JSON]
                                      show or set the providers that deliver messages (docs/messages.md)`,
};

const SETTINGS = `Settings come from the environment: JOURNEYD_DATABASE_URL (default
sqlite:./data/journeyd.db, relative to the working directory), HOST, PORT,
LOG_LEVEL, METRICS_PORT, METRICS_HOST, JOURNEYD_METRICS_TOKEN, JOURNEYD_HTTP_*
(timeouts and connection cap), JOURNEYD_SHUTDOWN_TIMEOUT_MS (docs/deployment.md).
Every command but serve says on stderr which database it opened; all but serve
and migrate refuse a database journeyd has not set up.`;

/** The usage of one command, or of them all. */
export function usage(command?: string): string {
  const known = command !== undefined ? COMMAND_USAGE[command] : undefined;
  if (known) return `usage: journeyd ${command} …\n\n${known}\n\n${SETTINGS}`;
  return `usage: journeyd <command> [--help]\n\n${Object.values(COMMAND_USAGE).join('\n')}\n\n${SETTINGS}`;
}
