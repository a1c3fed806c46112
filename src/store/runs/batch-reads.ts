import { sql, type Kysely, type RawBuilder } from 'kysely';
import { decodeTagValue, isTagType, type EncodedTagValue, type TagType } from '../../domain/tags.js';
import type { CompiledAudience } from '../audience/index.js';
import type { Dialect } from '../backend.js';
import type { Database } from '../schema.js';
import type { DeviceKind, RecipientDevice } from './types.js';

/**
 * The reads a point's execution makes for a whole batch, each one query
 * whatever the batch's size, through the executor of the batch's
 * transaction. The batch's user ids travel as one parameter: a JSON array
 * read by `json_each` on SQLite, a `text[]` on Postgres.
 */

/** Device types that receive push notifications (docs/device-api.md: all but Email, SMS and WhatsApp). */
export const PUSH_DEVICE_TYPES = [1, 3, 7, 8, 9, 10, 11, 12, 17, 19] as const;
export const EMAIL_DEVICE_TYPE = 14;
export const SMS_DEVICE_TYPE = 18;

function userIdIn(dialect: Dialect, column: RawBuilder<unknown>, userIds: readonly string[]): RawBuilder<boolean> {
  return dialect === 'sqlite'
    ? sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(userIds)}))`
    : sql`${column} = ANY(${userIds}::text[])`;
}

function kindCondition(kind: DeviceKind): RawBuilder<boolean> {
  switch (kind) {
    case 'push':
      return sql`d.device_type IN (${sql.join(PUSH_DEVICE_TYPES.map((t) => sql.lit(t)))}) AND d.push_token IS NOT NULL AND d.push_token <> ''`;
    case 'email':
      return sql`d.device_type = ${sql.lit(EMAIL_DEVICE_TYPE)}`;
    case 'sms':
      return sql`d.device_type = ${sql.lit(SMS_DEVICE_TYPE)}`;
    case 'any':
      return sql`1 = 1`;
  }
}

export async function readUsersMatching(
  executor: Kysely<Database>,
  dialect: Dialect,
  audience: CompiledAudience,
  userIds: readonly string[],
): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const query =
    dialect === 'sqlite'
      ? sql<{ user_id: string }>`SELECT seg_u.value AS user_id FROM json_each(${JSON.stringify(userIds)}) seg_u
          WHERE ${audience.userMatches(sql.ref('seg_u.value'))}`
      : sql<{ user_id: string }>`SELECT seg_u.user_id FROM unnest(${userIds}::text[]) AS seg_u(user_id)
          WHERE ${audience.userMatches(sql.ref('seg_u.user_id'))}`;
  const { rows } = await query.execute(executor);
  return new Set(rows.map((row) => row.user_id));
}

/** The users' devices of `kind`, grouped by user, each user's most recently updated device first. */
export async function readDevicesOf(
  executor: Kysely<Database>,
  dialect: Dialect,
  applicationId: number,
  userIds: readonly string[],
  kind: DeviceKind,
): Promise<Map<string, RecipientDevice[]>> {
  const byUser = new Map<string, (RecipientDevice & { readonly updatedAt: number })[]>();
  if (userIds.length === 0) return byUser;
  // Unordered: most users have one device, so sorting the few lists of several here beats an SQL sort of all.
  const { rows } = await sql<{
    id: number;
    user_id: string;
    hwid: string;
    device_type: number;
    push_token: string | null;
    timezone: number | null;
    updated_at: number;
  }>`SELECT d.id, d.user_id, d.hwid, d.device_type, d.push_token, d.timezone, d.updated_at FROM devices d
     WHERE d.application_id = ${applicationId} AND ${userIdIn(dialect, sql.ref('d.user_id'), userIds)}
       AND ${kindCondition(kind)}`.execute(executor);
  for (const row of rows) {
    const device = {
      id: Number(row.id),
      userId: row.user_id,
      hwid: row.hwid,
      deviceType: Number(row.device_type),
      pushToken: row.push_token,
      timezone: row.timezone === null ? null : Number(row.timezone),
      updatedAt: Number(row.updated_at),
    };
    const list = byUser.get(row.user_id);
    if (list) list.push(device);
    else byUser.set(row.user_id, [device]);
  }
  for (const list of byUser.values()) {
    if (list.length > 1) list.sort((a, b) => b.updatedAt - a.updatedAt || b.id - a.id);
  }
  return byUser;
}

/**
 * Each user's tags, decoded as getTags shows them: a tag's value comes from
 * the user's most recently updated device that has it (all of that device's
 * elements for a List tag). Users without tags are absent.
 */
export async function readTagsOf(
  executor: Kysely<Database>,
  dialect: Dialect,
  applicationId: number,
  userIds: readonly string[],
): Promise<Map<string, Record<string, unknown>>> {
  const result = new Map<string, Record<string, unknown>>();
  if (userIds.length === 0) return result;
  const { rows } = await sql<{
    user_id: string;
    device_id: number;
    name: string;
    type: number;
    int_value: number | null;
    real_value: number | null;
    text_value: string | null;
  }>`SELECT d.user_id, d.id AS device_id, td.name, td.type, dt.int_value, dt.real_value, dt.text_value
     FROM devices d
     JOIN device_tags dt ON dt.device_id = d.id
     JOIN tag_definitions td ON td.id = dt.tag_id
     WHERE d.application_id = ${applicationId} AND ${userIdIn(dialect, sql.ref('d.user_id'), userIds)}
     ORDER BY d.user_id, d.updated_at DESC, d.id DESC, td.name, dt.text_value`.execute(executor);

  // Rows arrive per user, devices in priority order: the first device seen with a tag owns it.
  let userId: string | undefined;
  let owners = new Map<string, { deviceId: number; type: TagType; values: EncodedTagValue[] }>();
  const flush = () => {
    if (userId === undefined) return;
    const tags: Record<string, unknown> = {};
    for (const [name, { type, values }] of owners) tags[name] = decodeTagValue(type, values);
    result.set(userId, tags);
  };
  for (const row of rows) {
    if (row.user_id !== userId) {
      flush();
      userId = row.user_id;
      owners = new Map();
    }
    const deviceId = Number(row.device_id);
    const owner = owners.get(row.name);
    if (owner && owner.deviceId !== deviceId) continue;
    const value = storedValue(row);
    if (owner) owner.values.push(value);
    else {
      const type = Number(row.type);
      if (!isTagType(type)) throw new Error(`tag_definitions type ${type} of "${row.name}" is not a tag type`);
      owners.set(row.name, { deviceId, type, values: [value] });
    }
  }
  flush();
  return result;
}

function storedValue(row: { int_value: number | null; real_value: number | null; text_value: string | null }): EncodedTagValue {
  if (row.int_value !== null) return { column: 'int_value', value: Number(row.int_value) };
  if (row.real_value !== null) return { column: 'real_value', value: Number(row.real_value) };
  if (row.text_value !== null) return { column: 'text_value', value: row.text_value };
  throw new Error('device_tags row with no value column set');
}
