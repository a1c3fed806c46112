import { createHash } from 'node:crypto';
import type { Backend } from '../backend.js';
import type { TokenKind } from '../schema.js';

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

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Authenticated tokens remembered per process; beyond this the least recently used is forgotten. */
const GRANT_CACHE_SIZE = 1_000;

/** Applications and the tokens granted to them. */
export class ApplicationStore {
  /**
   * Token → grant. A token and its grants are written once, in
   * `createToken`'s transaction, and never updated or deleted, so a grant
   * read once stays true in every process; unknown tokens are never cached
   * (one may be created by another process at any time). Keyed by the token
   * itself, which every request carries in memory anyway, so that a cached
   * token costs no SHA-256 (about 3 µs of a request's CPU).
   */
  private readonly grants = new Map<string, TokenGrant>();

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
    return this.backend.db.transaction().execute(async (trx) => {
      const { id } = await trx
        .insertInto('tokens')
        .values({ kind, token_hash: hashToken(token), name, created_at: Date.now() })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (applicationIds.length > 0) {
        await trx
          .insertInto('token_applications')
          .values(applicationIds.map((application_id) => ({ token_id: id, application_id })))
          .execute();
      }
      return id;
    });
  }

  async authenticate(token: string): Promise<TokenGrant | undefined> {
    const cached = this.grants.get(token);
    if (cached) {
      this.grants.delete(token);
      this.grants.set(token, cached);
      return cached;
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
    this.grants.set(token, grant);
    return grant;
  }
}
