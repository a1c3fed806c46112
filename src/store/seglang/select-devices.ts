import { sql, type RawBuilder } from 'kysely';
import type { DeviceSet } from '../../domain/seglang/device-set.js';
import type { Dialect } from '../backend.js';
import { tagRowCondition } from './value-condition.js';

/**
 * Compiles a device set into SQL that selects a whole audience: a compound
 * SELECT (INTERSECT / UNION / EXCEPT) of index range scans on `device_tags`,
 * joined once to `devices` to narrow to the application.
 *
 * Why this shape (1,000,000 devices, 5 tags; see bench/suites/seglang.ts):
 * both databases answer `id IN (compound of index-only scans)` faster than a
 * per-device predicate (`EXISTS ... OR EXISTS ...`), which visits every
 * device of the application; on SQLite 6x faster for a union/difference. A
 * set with nothing but exclusions (`A(app) \ T(...)`) is an anti-join instead,
 * so that the application's devices are scanned once, never materialized.
 * Postgres gets `NOT EXISTS` rather than `NOT IN`, which it can only hash
 * when the set fits in work_mem and otherwise rescans per row.
 */
export function selectDeviceIds(set: DeviceSet, dialect: Dialect, applicationId: number): RawBuilder<{ device_id: number }> {
  return sql`SELECT seg_d.id AS device_id FROM devices seg_d WHERE ${sql.join(audienceConditions(set, dialect, applicationId), sql` AND `)}`;
}

/** The same audience as distinct user ids. */
export function selectUserIds(set: DeviceSet, dialect: Dialect, applicationId: number): RawBuilder<{ user_id: string }> {
  return sql`SELECT DISTINCT seg_d.user_id FROM devices seg_d WHERE ${sql.join(audienceConditions(set, dialect, applicationId), sql` AND `)}`;
}

/** Conditions on `devices seg_d` that together select the set. */
function audienceConditions(set: DeviceSet, dialect: Dialect, applicationId: number): RawBuilder<boolean>[] {
  const conditions: RawBuilder<boolean>[] = [sql`seg_d.application_id = ${applicationId}`];
  if (set.kind === 'all') return conditions;
  if (set.kind === 'none') return [...conditions, sql`1 = 0`];

  const { included, excluded } = splitConjunction(set);
  const scanned: DeviceSet[] = [];
  for (const part of included) {
    if (part.kind === 'platforms') conditions.push(sql`seg_d.device_type IN (${sql.join(part.deviceTypes)})`);
    else scanned.push(part);
  }
  const scannedExcluded: DeviceSet[] = [];
  for (const part of excluded) {
    if (part.kind === 'platforms') conditions.push(sql`seg_d.device_type NOT IN (${sql.join(part.deviceTypes)})`);
    else scannedExcluded.push(part);
  }

  const [first, ...rest] = scanned;
  if (first) {
    let compound = rest.reduce<DeviceSet>((left, right) => ({ kind: 'intersect', left, right }), first);
    for (const right of scannedExcluded) compound = { kind: 'difference', left: compound, right };
    conditions.push(sql`seg_d.id IN (${compoundSelect(compound, dialect, applicationId)})`);
  } else {
    for (const part of scannedExcluded) conditions.push(excludes(part, dialect, applicationId));
  }
  return conditions;
}

/**
 * The top-level intersection as its parts: `a * b \ c * d` is included
 * {a, b, d}, excluded {c}. Platform parts become conditions on `devices`
 * and the others one compound query.
 */
function splitConjunction(set: DeviceSet): { included: DeviceSet[]; excluded: DeviceSet[] } {
  if (set.kind === 'intersect') {
    const left = splitConjunction(set.left);
    const right = splitConjunction(set.right);
    return { included: [...left.included, ...right.included], excluded: [...left.excluded, ...right.excluded] };
  }
  if (set.kind === 'difference') {
    const left = splitConjunction(set.left);
    return { included: left.included, excluded: [...left.excluded, set.right] };
  }
  return { included: [set], excluded: [] };
}

function excludes(set: DeviceSet, dialect: Dialect, applicationId: number): RawBuilder<boolean> {
  const select = compoundSelect(set, dialect, applicationId);
  return dialect === 'sqlite'
    ? sql`seg_d.id NOT IN (${select})`
    : sql`NOT EXISTS (SELECT 1 FROM (${select}) AS seg_x WHERE seg_x.device_id = seg_d.id)`;
}

const SET_OPERATOR_SQL = { intersect: sql`INTERSECT`, union: sql`UNION`, difference: sql`EXCEPT` } as const;

/** A SELECT of `device_id` (possibly with duplicates for List tags) for any set. */
function compoundSelect(set: DeviceSet, dialect: Dialect, applicationId: number): RawBuilder<{ device_id: number }> {
  switch (set.kind) {
    case 'tagged':
      return sql`SELECT device_id FROM device_tags WHERE ${tagRowCondition(set)}`;
    case 'all':
      return sql`SELECT id AS device_id FROM devices WHERE application_id = ${applicationId}`;
    case 'none':
      return sql`SELECT id AS device_id FROM devices WHERE 1 = 0`;
    case 'platforms':
      return sql`SELECT id AS device_id FROM devices WHERE application_id = ${applicationId} AND device_type IN (${sql.join(set.deviceTypes)})`;
    case 'intersect':
    case 'union':
    case 'difference': {
      const left = compoundSelect(set.left, dialect, applicationId);
      const right = compoundSelect(set.right, dialect, applicationId);
      return sql`${operand(set.left, left, 'left', dialect)} ${SET_OPERATOR_SQL[set.kind]} ${operand(set.right, right, 'right', dialect)}`;
    }
  }
}

/**
 * Nesting compounds differs by dialect. SQLite's set operators share one
 * precedence, associate left and refuse parentheses, so a nested right-hand
 * compound becomes a subquery. Postgres binds INTERSECT tighter than UNION and
 * EXCEPT, so every nested compound is parenthesized.
 */
function operand(
  set: DeviceSet,
  select: RawBuilder<{ device_id: number }>,
  side: 'left' | 'right',
  dialect: Dialect,
): RawBuilder<{ device_id: number }> {
  const isCompound = set.kind === 'intersect' || set.kind === 'union' || set.kind === 'difference';
  if (!isCompound) return select;
  if (dialect === 'postgres') return sql`(${select})`;
  return side === 'left' ? select : sql`SELECT device_id FROM (${select})`;
}
