import { parseArgs } from 'node:util';
import { readConfig } from '../config.js';
import { isApplicationCode, randomApplicationCode } from '../domain/codes.js';
import type { Role } from '../service/serve.js';
import { UsageError, withStore } from './command.js';
import { runDevicesImport } from './import.js';
import { runChannelsCommand } from './channels.js';
import { runTokensCommand } from './tokens.js';

const USAGE = `usage: journeyd <command>

  serve [--role all|api|worker]       run the API and/or the workers (default: all)
  migrate                             apply pending database migrations
  apps create [--code CODE] [--name NAME]
                                      create an application
  tokens create|list|revoke|rotate    issue, show and withdraw tokens (docs/operations.md):
    tokens create --app CODE [--app CODE ...] [--kind api|device] [--name NAME]
                                      print a new token granted to the applications
    tokens list                       every token's id, kind, name and applications
    tokens revoke TOKEN | --id ID     withdraw a token; every process refuses it within 5 s
    tokens rotate CODE [--kind api|device] [--name NAME]
                                      print a new token for the application; its other
                                      tokens of that kind stop acting on it within 5 s
  devices import FILE --app CODE [--format csv|ndjson] [--batch-size N]
                                      import devices from CSV or NDJSON (docs/import.md)
  channels list|set|reset --app CODE [--channel C] [--provider P] [--config JSON]
                                      show or set the providers that deliver messages (docs/messages.md)

Settings come from the environment: JOURNEYD_DATABASE_URL, HOST, PORT, LOG_LEVEL,
METRICS_PORT, METRICS_HOST, JOURNEYD_METRICS_TOKEN, JOURNEYD_HTTP_* (timeouts and
connection cap), JOURNEYD_SHUTDOWN_TIMEOUT_MS (docs/deployment.md).`;

async function main(argv: string[]): Promise<void> {
  const [command = '', sub, ...rest] = argv;
  switch (command) {
    case 'serve': {
      // Loaded on demand so the other commands (import above all) do not carry the HTTP server in memory.
      const { ROLES, serve } = await import('../service/serve.js');
      const { stopOnSignals } = await import('../service/shutdown.js');
      const { dropStdoutOnceItsReaderIsGone } = await import('../logger.js');
      dropStdoutOnceItsReaderIsGone();
      const { values } = parseArgs({ args: argv.slice(1), options: { role: { type: 'string', default: 'all' } } });
      if (!ROLES.includes(values.role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
      const config = readConfig();
      const service = await serve(config, values.role as Role);
      stopOnSignals(service, config.shutdownTimeoutMs);
      return;
    }
    case 'migrate': {
      const applied = await withStore((store) => store.migrate());
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      return;
    }
    case 'apps':
      if (sub !== 'create') break;
      return createApp(rest);
    case 'tokens':
      return runTokensCommand(sub, rest);
    case 'devices':
      if (sub !== 'import') break;
      process.exitCode = await runDevicesImport(rest);
      return;
    case 'channels':
      process.exitCode = await runChannelsCommand(sub, rest);
      return;
  }
  throw new UsageError(command ? `unknown command: ${[command, sub].filter(Boolean).join(' ')}` : 'no command given');
}

async function createApp(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { code: { type: 'string' }, name: { type: 'string' } } });
  const code = values.code ?? randomApplicationCode();
  if (!isApplicationCode(code)) throw new UsageError(`--code must look like XXXXX-XXXXX, got "${code}"`);
  const app = await withStore(async (store) => {
    if (await store.applications.findByCode(code)) throw new UsageError(`application ${code} already exists`);
    return store.applications.create(code, values.name ?? code);
  });
  console.log(app.code);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`journeyd: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(`journeyd: ${(error as Error).message}`);
  process.exit(1);
});
