import { parseArgs } from 'node:util';
import { readConfig } from '../config.js';
import { isApplicationCode, randomApplicationCode } from '../domain/codes.js';
import type { Role } from '../service/serve.js';
import { openCommandStore, UsageError, withStore } from './command.js';
import { runDevicesImport } from './import.js';
import { runChannelsCommand } from './channels.js';
import { runTokensCommand } from './tokens.js';
import { usage } from './usage.js';

const HELP_FLAGS = new Set(['--help', '-h']);

async function main(argv: string[]): Promise<void> {
  const [command = '', sub, ...rest] = argv;
  if (command === 'help' || argv.some((arg) => HELP_FLAGS.has(arg))) {
    console.log(usage(command === 'help' ? sub : command));
    return;
  }
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
      const { store, applied } = await openCommandStore(readConfig().databaseUrl, 'create');
      await store.close();
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      return;
    }
    case 'apps':
      if (sub === 'create') return createApp(rest);
      if (sub === 'list') return listApps(rest);
      break;
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
  const app = await withStore('existing', async (store) => {
    if (await store.applications.findByCode(code)) throw new UsageError(`application ${code} already exists`);
    return store.applications.create(code, values.name ?? code);
  });
  console.log(app.code);
}

async function listApps(args: string[]): Promise<void> {
  parseArgs({ args, options: {} });
  for (const app of await withStore('existing', (store) => store.applications.list())) console.log(`${app.code}  ${app.name}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`journeyd: ${(error as Error).message}\n\n${usage(process.argv[2])}`);
    process.exit(2);
  }
  console.error(`journeyd: ${(error as Error).message}`);
  process.exit(1);
});
