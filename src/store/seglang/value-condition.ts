import { sql, type RawBuilder } from 'kysely';
import type { TaggedSet } from '../../domain/seglang/device-set.js';

/**
 * The WHERE condition on one `device_tags` row for a tagged set, with every
 * value a bound parameter. `table` qualifies the columns (or not, when empty).
 * The explicit `IS NOT NULL` lets both databases use the value column's
 * partial index `device_tags_by_{int,real,text}` (tag_id, value, device_id).
 */
export function tagRowCondition(set: TaggedSet, table = ''): RawBuilder<boolean> {
  const column = sql.ref(table ? `${table}.${set.column}` : set.column);
  const tagId = sql.ref(table ? `${table}.tag_id` : 'tag_id');
  const isSet = sql<boolean>`${tagId} = ${set.tagId} AND ${column} IS NOT NULL`;
  const { match } = set;
  let matches: RawBuilder<boolean>;
  switch (match.kind) {
    case 'any':
      return isSet;
    case 'equals':
      matches =
        match.values.length === 1
          ? sql`${column} = ${match.values[0]}`
          : sql`${column} IN (${sql.join(match.values.map((value) => sql`${value}`))})`;
      break;
    case 'range': {
      const bounds: RawBuilder<boolean>[] = [];
      if (match.min !== undefined) bounds.push(sql`${column} >= ${match.min}`);
      if (match.max !== undefined) bounds.push(sql`${column} <= ${match.max}`);
      if (bounds.length === 0) return isSet;
      matches = sql`${sql.join(bounds, sql` AND `)}`;
      break;
    }
    case 'spans':
      matches = anyOf(match.spans.map((span) => sql<boolean>`(${column} >= ${span.min} AND ${column} <= ${span.max})`));
      break;
  }
  return set.negated ? sql`${isSet} AND NOT (${matches})` : sql`${isSet} AND ${matches}`;
}

/**
 * `a OR b OR ...` parenthesized as a balanced tree: SQLite counts the depth of
 * an expression (at most 1,000), and a flat chain of n ORs is n deep.
 */
function anyOf(conditions: readonly RawBuilder<boolean>[]): RawBuilder<boolean> {
  if (conditions.length === 1) return conditions[0] as RawBuilder<boolean>;
  const middle = Math.ceil(conditions.length / 2);
  return sql`(${anyOf(conditions.slice(0, middle))} OR ${anyOf(conditions.slice(middle))})`;
}
