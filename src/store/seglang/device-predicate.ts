import { sql, type Expression, type RawBuilder } from 'kysely';
import type { DeviceSet } from '../../domain/seglang/device-set.js';
import { tagRowCondition } from './value-condition.js';

/**
 * Compiles a device set into a condition on one device row `seg_d`: each tag
 * is an EXISTS probe by (device_id, tag_id). This is the shape for testing a
 * few known users (a boolean splitter's batch), where scanning whole tag
 * indexes as `selectDeviceIds` does would cost the whole audience.
 */
function devicePredicate(set: DeviceSet): RawBuilder<boolean> {
  switch (set.kind) {
    case 'all':
      return sql`1 = 1`;
    case 'none':
      return sql`1 = 0`;
    case 'platforms':
      return sql`seg_d.device_type IN (${sql.join(set.deviceTypes)})`;
    case 'tagged':
      return sql`EXISTS (SELECT 1 FROM device_tags seg_t WHERE seg_t.device_id = seg_d.id AND ${tagRowCondition(set, 'seg_t')})`;
    case 'intersect':
      return sql`(${devicePredicate(set.left)} AND ${devicePredicate(set.right)})`;
    case 'union':
      return sql`(${devicePredicate(set.left)} OR ${devicePredicate(set.right)})`;
    case 'difference':
      return sql`(${devicePredicate(set.left)} AND NOT ${devicePredicate(set.right)})`;
  }
}

/** True when the user (an expression of the enclosing query) has a device of the application in the set. */
export function userHasDeviceIn(set: DeviceSet, applicationId: number, userId: Expression<string>): RawBuilder<boolean> {
  return sql`EXISTS (SELECT 1 FROM devices seg_d WHERE seg_d.application_id = ${applicationId} AND seg_d.user_id = ${userId} AND ${devicePredicate(set)})`;
}
