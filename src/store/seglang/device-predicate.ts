import { sql, type Expression, type RawBuilder } from 'kysely';
import type { DeviceSet } from '../../domain/seglang/device-set.js';
import type { Dialect } from '../backend.js';
import { tagRowCondition } from './value-condition.js';

/**
 * Compiles a device set into a condition on one device row `seg_d`: each tag
 * is an EXISTS probe by (device_id, tag_id). This is the shape for testing a
 * few known users (a boolean splitter's batch), where scanning whole tag
 * indexes as `selectDeviceIds` does would cost the whole audience.
 *
 * SQLite is told to probe with `device_tags_by_device`: without ANALYZE
 * statistics it prefers the value index for a range condition and then scans
 * every row in the range for each device (minutes instead of milliseconds on
 * a million devices).
 */
function devicePredicate(set: DeviceSet, dialect: Dialect): RawBuilder<boolean> {
  const tagRows = dialect === 'sqlite' ? sql`device_tags seg_t INDEXED BY device_tags_by_device` : sql`device_tags seg_t`;
  const predicate = (s: DeviceSet): RawBuilder<boolean> => {
    switch (s.kind) {
      case 'all':
        return sql`1 = 1`;
      case 'none':
        return sql`1 = 0`;
      case 'platforms':
        return sql`seg_d.device_type IN (${sql.join(s.deviceTypes)})`;
      case 'tagged':
        return sql`EXISTS (SELECT 1 FROM ${tagRows} WHERE seg_t.device_id = seg_d.id AND ${tagRowCondition(s, 'seg_t')})`;
      case 'intersect':
        return sql`(${predicate(s.left)} AND ${predicate(s.right)})`;
      case 'union':
        return sql`(${predicate(s.left)} OR ${predicate(s.right)})`;
      case 'difference':
        return sql`(${predicate(s.left)} AND NOT ${predicate(s.right)})`;
    }
  };
  return predicate(set);
}

/** True when the user (an expression of the enclosing query) has a device of the application in the set. */
export function userHasDeviceIn(set: DeviceSet, dialect: Dialect, applicationId: number, userId: Expression<string>): RawBuilder<boolean> {
  // Postgres: OFFSET 0 keeps the EXISTS a probe per user (devices_by_user, then each tag by device).
  // Flattened into a semi join, it was planned as hash joins over every device and tag row of the
  // application once the batch had a few thousand users: a boolean split of 3,000 users among
  // 1,000,000 took 250–310 ms instead of ~15 (docs/engine.md).
  const probe = dialect === 'postgres' ? sql` OFFSET 0` : sql``;
  return sql`EXISTS (SELECT 1 FROM devices seg_d WHERE seg_d.application_id = ${applicationId} AND seg_d.user_id = ${userId} AND ${devicePredicate(set, dialect)}${probe})`;
}
