import { sql, type Expression, type RawBuilder } from 'kysely';
import type { SegExpr } from '../../domain/seglang/ast.js';
import type { DeviceSet } from '../../domain/seglang/device-set.js';
import { resolveSeglang, tagNamesOf, type TagDeclaration } from '../../domain/seglang/resolve.js';
import { isTagType } from '../../domain/tags.js';
import type { Backend } from '../backend.js';
import { userHasDeviceIn } from '../seglang/device-predicate.js';
import { selectDeviceIds, selectUserIds } from '../seglang/select-devices.js';

/**
 * A seglang expression compiled for one application, as SQL fragments other
 * store modules embed in their own statements. Every value is a bound
 * parameter, and every fragment is narrowed to `applicationId`.
 */
export interface CompiledAudience {
  readonly applicationId: number;
  /** What the expression means in this application, after tag types were checked. */
  readonly devices: DeviceSet;
  /**
   * `SELECT device_id` of each matching device once, e.g.
   * sql`INSERT INTO runs (...) SELECT ... FROM devices d WHERE d.id IN (${audience.deviceIds})`.
   */
  readonly deviceIds: RawBuilder<{ device_id: number }>;
  /** `SELECT DISTINCT user_id` of the users owning at least one matching device. */
  readonly userIds: RawBuilder<{ user_id: string }>;
  /** A condition: the user `userId` (a column or value of the enclosing query) has a matching device. */
  userMatches(userId: Expression<string>): RawBuilder<boolean>;
}

/** Selects devices and users with seglang (docs/seglang.md). */
export class AudienceStore {
  constructor(private readonly backend: Backend) {}

  /**
   * Checks `expr` against the application's tag declarations (a value of the
   * wrong type throws a SeglangError) and compiles it. `now` (epoch ms) is the
   * moment `daysago` counts from.
   */
  async compile(applicationId: number, expr: SegExpr, now: number = Date.now()): Promise<CompiledAudience> {
    const application = await this.backend.db.selectFrom('applications').select('code').where('id', '=', applicationId).executeTakeFirst();
    if (!application) throw new Error(`no application with id ${applicationId}`);
    const tags = await this.tagDeclarations(applicationId, [...tagNamesOf(expr)]);
    const devices = resolveSeglang(expr, { applicationCode: application.code, tags, now });
    const { dialect } = this.backend;
    return {
      applicationId,
      devices,
      deviceIds: selectDeviceIds(devices, dialect, applicationId),
      userIds: selectUserIds(devices, dialect, applicationId),
      userMatches: (userId) => userHasDeviceIn(devices, dialect, applicationId, userId),
    };
  }

  /** Distinct ids of the users with at least one matching device. */
  async usersMatching(applicationId: number, expr: SegExpr, now?: number): Promise<string[]> {
    const { userIds } = await this.compile(applicationId, expr, now);
    const { rows } = await userIds.execute(this.backend.db);
    return rows.map((row) => row.user_id);
  }

  /**
   * The users among `userIds` with at least one matching device, in the order
   * given, each once; one query for the whole batch.
   */
  async filterUsers(applicationId: number, expr: SegExpr, userIds: readonly string[], now?: number): Promise<string[]> {
    const candidates = [...new Set(userIds)];
    if (candidates.length === 0) return [];
    const audience = await this.compile(applicationId, expr, now);
    const matched = new Set<string>();
    // Candidates travel as one parameter (a JSON array / a text[]) whatever their number.
    const query =
      this.backend.dialect === 'sqlite'
        ? sql<{ user_id: string }>`SELECT seg_u.value AS user_id FROM json_each(${JSON.stringify(candidates)}) seg_u
            WHERE ${audience.userMatches(sql.ref('seg_u.value'))}`
        : sql<{ user_id: string }>`SELECT seg_u.user_id FROM unnest(${candidates}::text[]) AS seg_u(user_id)
            WHERE ${audience.userMatches(sql.ref('seg_u.user_id'))}`;
    const { rows } = await query.execute(this.backend.db);
    for (const row of rows) matched.add(row.user_id);
    return candidates.filter((userId) => matched.has(userId));
  }

  private async tagDeclarations(applicationId: number, names: string[]): Promise<Map<string, TagDeclaration>> {
    const declarations = new Map<string, TagDeclaration>();
    if (names.length === 0) return declarations;
    const rows = await this.backend.db
      .selectFrom('tag_definitions')
      .select(['id', 'name', 'type'])
      .where('application_id', '=', applicationId)
      .where('name', 'in', names)
      .execute();
    for (const row of rows) {
      if (!isTagType(row.type)) throw new Error(`tag_definitions row ${row.id} has unknown type ${row.type}`);
      declarations.set(row.name, { id: row.id, type: row.type });
    }
    return declarations;
  }
}
