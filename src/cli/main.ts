import { parseArgs } from 'node:util';
import { readConfig } from '../config.js';
import { isApplicationCode, randomApplicationCode, randomToken } from '../domain/codes.js';
import type { Role } from '../service/serve.js';
import { runDevicesImport } from './import.js';
import { runChannelsCommand } from './channels.js';
import { Store } from '../store/store.js';

const USAGE = `usage: journeyd <command>

  serve [--role all|api|worker]       run the API and/or the workers (default: all)
  migrate                             apply pending database migrations
  apps create [--code CODE] [--name NAME]
                                      create an application
  tokens create --app CODE [--app CODE ...] [--kind api|device] [--name NAME]
                                      create a token granted to applications
  devices import FILE --app CODE [--format csv|ndjson] [--batch-size N]
                                      import devices from CSV or NDJSON (docs/import.md)
  channels list|set|reset --app CODE [--channel C] [--provider P] [--config JSON]
                                      show or set the providers that deliver messages (docs/messages.md)

Settings come from the environment: JOURNEYD_DATABASE_URL, HOST, PORT, LOG_LEVEL,
METRICS_PORT, METRICS_HOST, JOURNEYD_METRICS_TOKEN, JOURNEYD_HTTP_* (timeouts and
connection cap), JOURNEYD_SHUTDOWN_TIMEOUT_MS (docs/deployment.md).`;

class UsageError extends Error {}

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = Store.open(readConfig().databaseUrl);
  try {
    await store.migrate();
    return await fn(store);
  } finally {
    await store.close();
  }
}

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
      if (sub !== 'create') break;
      return createToken(rest);
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

async function createToken(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      app: { type: 'string', multiple: true },
      kind: { type: 'string', default: 'api' },
      name: { type: 'string', default: 'cli' },
    },
  });
  if (!values.app?.length) throw new UsageError('tokens create needs --app CODE');
  if (values.kind !== 'api' && values.kind !== 'device') throw new UsageError('--kind must be api or device');
  const kind = values.kind;
  const token = randomToken();
  await withStore(async (store) => {
    const ids: number[] = [];
    for (const code of values.app ?? []) {
      const app = await store.applications.findByCode(code);
      if (!app) throw new UsageError(`no application ${code}`);
      ids.push(app.id);
    }
    await store.applications.createToken(token, kind, values.name, ids);
  });
  console.log(token);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`journeyd: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(`journeyd: ${(error as Error).message}`);
  process.exit(1);
});
