import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Backend } from '../backend.js';
import type { Database, TokenKind } from '../schema.js';

export interface Application {
  readonly id: number;
  readonly code: string;
  readonly name: string;
}

export interface TokenGrant {
  readonly tokenId: number;
  readonly kind: TokenKind;
  /** Application ids this token may act on. */
  readonly applicationIds: ReadonlySet<number>;
}

/** A token as `journeyd tokens list` shows it: never the token itself, which is stored hashed. */
export interface TokenListing {
  readonly id: number;
  readonly kind: TokenKind;
  readonly name: string;
  readonly createdAt: number;
  /** Codes of the applications it is granted, in id order. */
  readonly applicationCodes: readonly string[];
}

/** A token named by its value, or by its id (`tokens list`) when the value is lost. */
export type TokenRef = { readonly token: string } | { readonly id: number };

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Authenticated tokens remembered per process; beyond this the least recently used is forgotten. */
const GRANT_CACHE_SIZE = 1_000;

/**
 * How long a process trusts a grant it read before reading it again: the
 * bound on how long a token revoked or rotated (by the CLI, in another
 * process) still works here (docs/operations.md "Tokens").
 */
export const GRANT_CACHE_TTL_MS = 5_000;

interface CachedGrant {
  readonly grant: TokenGrant;
  /** performance.now() after which the grant is read again. */
  readonly readAgainAt: number;
}

/** Applications and the tokens granted to them. */
export class ApplicationStore {
  /**
   * Token → grant, each trusted for GRANT_CACHE_TTL_MS: another process may
   * revoke or rotate the token at any time. Unknown tokens are never cached
   * (one may be created by another process at any time). Keyed by the token
   * itself, which every request carries in memory anyway, so that a cached
   * token costs no SHA-256 (about 3 µs of a request's CPU).
   */
  private readonly grants = new Map<string, CachedGrant>();

  constructor(private readonly backend: Backend) {}

  async count(): Promise<number> {
    const row = await this.backend.db
      .selectFrom('applications')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async create(code: string, name: string): Promise<Application> {
    return this.backend.db
      .insertInto('applications')
      .values({ code, name, created_at: Date.now() })
      .returning(['id', 'code', 'name'])
      .executeTakeFirstOrThrow();
  }

  async findByCode(code: string): Promise<Application | undefined> {
    return this.backend.db.selectFrom('applications').select(['id', 'code', 'name']).where('code', '=', code).executeTakeFirst();
  }

  async findById(id: number): Promise<Application | undefined> {
    return this.backend.db.selectFrom('applications').select(['id', 'code', 'name']).where('id', '=', id).executeTakeFirst();
  }

  async list(): Promise<Application[]> {
    return this.backend.db.selectFrom('applications').select(['id', 'code', 'name']).orderBy('id').execute();
  }

  /** Stores the token's hash and its grants in one transaction. */
  async createToken(token: string, kind: TokenKind, name: string, applicationIds: readonly number[]): Promise<number> {
    return this.backend.db.transaction().execute((trx) => insertToken(trx, token, kind, name, applicationIds));
  }

  async listTokens(): Promise<TokenListing[]> {
    const rows = await this.backend.db
      .selectFrom('tokens')
      .leftJoin('token_applications', 'token_applications.token_id', 'tokens.id')
      .leftJoin('applications', 'applications.id', 'token_applications.application_id')
      .select(['tokens.id', 'tokens.kind', 'tokens.name', 'tokens.created_at', 'applications.code'])
      .orderBy('tokens.id')
      .orderBy('applications.id')
      .execute();
    const tokens = new Map<number, TokenListing & { applicationCodes: string[] }>();
    for (const row of rows) {
      let listing = tokens.get(row.id);
      if (!listing) {
        listing = { id: row.id, kind: row.kind, name: row.name, createdAt: row.created_at, applicationCodes: [] };
        tokens.set(row.id, listing);
      }
      if (row.code !== null) listing.applicationCodes.push(row.code);
    }
    return [...tokens.values()];
  }

  /** Deletes the token and its grants; returns its id, undefined when there is no such token. Processes stop accepting it within GRANT_CACHE_TTL_MS. */
  async revokeToken(ref: TokenRef): Promise<number | undefined> {
    const tokens = this.backend.db.deleteFrom('tokens');
    const deleted = await ('token' in ref ? tokens.where('token_hash', '=', hashToken(ref.token)) : tokens.where('id', '=', ref.id))
      .returning('id')
      .executeTakeFirst();
    return deleted?.id;
  }

  /**
   * In one transaction: a new token of `kind` granted to the application,
   * and every other token of that kind loses its grant to it (one left with
   * no grant is deleted), so the new token is the only one of its kind that
   * acts on the application. Returns the new token's id and how many lost
   * their grant.
   */
  async rotateToken(applicationId: number, kind: TokenKind, token: string, name: string): Promise<{ tokenId: number; revoked: number }> {
    return this.backend.db.transaction().execute(async (trx) => {
      const held = await trx
        .selectFrom('token_applications')
        .innerJoin('tokens', 'tokens.id', 'token_applications.token_id')
        .select('tokens.id')
        .where('token_applications.application_id', '=', applicationId)
        .where('tokens.kind', '=', kind)
        .execute();
      const revoked = held.map((row) => row.id);
      if (revoked.length > 0) {
        await trx.deleteFrom('token_applications').where('application_id', '=', applicationId).where('token_id', 'in', revoked).execute();
        await trx
          .deleteFrom('tokens')
          .where('id', 'in', revoked)
          .where((eb) =>
            eb.not(
              eb.exists(eb.selectFrom('token_applications').select('token_id').whereRef('token_applications.token_id', '=', 'tokens.id')),
            ),
          )
          .execute();
      }
      const tokenId = await insertToken(trx, token, kind, name, [applicationId]);
      return { tokenId, revoked: revoked.length };
    });
  }

  async authenticate(token: string): Promise<TokenGrant | undefined> {
    const cached = this.grants.get(token);
    if (cached) {
      this.grants.delete(token);
      if (performance.now() < cached.readAgainAt) {
        this.grants.set(token, cached);
        return cached.grant;
      }
    }
    const hash = hashToken(token);
    const rows = await this.backend.db
      .selectFrom('tokens')
      .leftJoin('token_applications', 'token_applications.token_id', 'tokens.id')
      .select(['tokens.id', 'tokens.kind', 'token_applications.application_id'])
      .where('tokens.token_hash', '=', hash)
      .execute();
    const first = rows[0];
    if (!first) return undefined;
    const applicationIds = new Set<number>();
    for (const row of rows) if (row.application_id !== null) applicationIds.add(row.application_id);
    const grant: TokenGrant = { tokenId: first.id, kind: first.kind, applicationIds };
    if (this.grants.size >= GRANT_CACHE_SIZE) this.grants.delete(this.grants.keys().next().value as string);
    this.grants.set(token, { grant, readAgainAt: performance.now() + GRANT_CACHE_TTL_MS });
    return grant;
  }
}

async function insertToken(
  db: Kysely<Database>,
  token: string,
  kind: TokenKind,
  name: string,
  applicationIds: readonly number[],
): Promise<number> {
  const { id } = await db
    .insertInto('tokens')
    .values({ kind, token_hash: hashToken(token), name, created_at: Date.now() })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (applicationIds.length > 0) {
    await db
      .insertInto('token_applications')
      .values(applicationIds.map((application_id) => ({ token_id: id, application_id })))
      .execute();
  }
  return id;
}
