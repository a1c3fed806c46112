import { parseArgs } from 'node:util';
import { randomToken } from '../domain/codes.js';
import type { TokenRef } from '../store/applications/index.js';
import type { TokenKind } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { UsageError, withStore } from './command.js';

/** `journeyd tokens create|list|revoke|rotate …` (docs/operations.md "Tokens"). */
export async function runTokensCommand(sub: string | undefined, args: string[]): Promise<void> {
  switch (sub) {
    case 'create':
      return createToken(args);
    case 'list':
      return listTokens(args);
    case 'revoke':
      return revokeToken(args);
    case 'rotate':
      return rotateToken(args);
    default:
      throw new UsageError(sub ? `unknown command: tokens ${sub}` : 'tokens needs create, list, revoke or rotate');
  }
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
  const kind = kindOption(values.kind);
  const token = randomToken();
  await withStore('existing', async (store) => {
    const ids: number[] = [];
    for (const code of values.app ?? []) ids.push(await applicationId(store, code));
    await store.applications.createToken(token, kind, values.name, ids);
  });
  console.log(token);
}

/** One line per token: id, kind, name, applications, creation time; never the token, which is stored hashed. */
async function listTokens(args: string[]): Promise<void> {
  parseArgs({ args, options: {} });
  for (const token of await withStore('existing', (store) => store.applications.listTokens())) {
    const applications = token.applicationCodes.join(',') || '-';
    console.log([token.id, token.kind, token.name, applications, new Date(token.createdAt).toISOString()].join('\t'));
  }
}

async function revokeToken(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { id: { type: 'string' } }, allowPositionals: true });
  const ref = tokenRef(values.id, positionals);
  const id = await withStore('existing', (store) => store.applications.revokeToken(ref));
  if (id === undefined) throw new Error('no such token');
  console.log(`revoked token ${id}`);
}

/** Prints the new token alone on stdout (for scripts); what it replaced goes to stderr. */
async function rotateToken(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { kind: { type: 'string', default: 'api' }, name: { type: 'string', default: 'cli' } },
    allowPositionals: true,
  });
  const [code, ...extra] = positionals;
  if (code === undefined || extra.length > 0) throw new UsageError('tokens rotate needs exactly one application code');
  const kind = kindOption(values.kind);
  const token = randomToken();
  const { revoked } = await withStore('existing', async (store) =>
    store.applications.rotateToken(await applicationId(store, code), kind, token, values.name),
  );
  console.log(token);
  console.error(`journeyd: ${revoked} earlier ${kind} token(s) of ${code} no longer act on it`);
}

function tokenRef(id: string | undefined, positionals: string[]): TokenRef {
  if (id !== undefined && positionals.length === 0) {
    if (!/^[1-9]\d*$/.test(id)) throw new UsageError(`--id must be a token id from tokens list, got "${id}"`);
    return { id: Number(id) };
  }
  if (id === undefined && positionals.length === 1) return { token: positionals[0] as string };
  throw new UsageError('tokens revoke needs the token, or --id ID');
}

function kindOption(kind: string): TokenKind {
  if (kind !== 'api' && kind !== 'device') throw new UsageError('--kind must be api or device');
  return kind;
}

async function applicationId(store: Store, code: string): Promise<number> {
  const application = await store.applications.findByCode(code);
  if (!application) throw new UsageError(`no application ${code}`);
  return application.id;
}
