/**
 * What a seglang expression means once its tags are known: an algebra of
 * device sets inside one application. The store compiles it to SQL; each
 * leaf is one index range scan.
 */
export type DeviceSet =
  /** Every device of the application. */
  | { readonly kind: 'all' }
  | { readonly kind: 'none' }
  | { readonly kind: 'platforms'; readonly deviceTypes: readonly number[] }
  | TaggedSet
  | {
      readonly kind: 'intersect' | 'union' | 'difference';
      readonly left: DeviceSet;
      readonly right: DeviceSet;
    };

export type ValueColumn = 'int_value' | 'real_value' | 'text_value';
export type EncodedValue = number | string;

/**
 * Devices with a `device_tags` row for `tagId` whose value matches. With
 * `negated`, devices with a row whose value does NOT match: used only for
 * single-valued tags, where that means "set to another value".
 */
export interface TaggedSet {
  readonly kind: 'tagged';
  readonly tagId: number;
  readonly column: ValueColumn;
  readonly match: ValueMatch;
  readonly negated: boolean;
  /** A List tag: a device may have several rows, so several may match. */
  readonly multiValued: boolean;
}

export type ValueMatch =
  | { readonly kind: 'any' }
  | { readonly kind: 'equals'; readonly values: readonly EncodedValue[] }
  /** Inclusive bounds; a missing bound is open. */
  | { readonly kind: 'range'; readonly min?: EncodedValue; readonly max?: EncodedValue }
  /** Within one of several inclusive ranges: a Date tag's `in` list, each value a span of seconds. */
  | { readonly kind: 'spans'; readonly spans: readonly Span[] };

export interface Span {
  readonly min: number;
  readonly max: number;
}

export const ALL: DeviceSet = { kind: 'all' };
export const NONE: DeviceSet = { kind: 'none' };

/**
 * The set operations, simplified on the way: every set is a subset of ALL, so
 * `x * ALL = x`, `x + ALL = ALL`, `x \ ALL = NONE`, and NONE absorbs or vanishes.
 * This is what makes `A("CODE") * T(...)` cost exactly one index scan.
 */
export function intersect(left: DeviceSet, right: DeviceSet): DeviceSet {
  if (left.kind === 'none' || right.kind === 'none') return NONE;
  if (left.kind === 'all') return right;
  if (right.kind === 'all') return left;
  return { kind: 'intersect', left, right };
}

export function union(left: DeviceSet, right: DeviceSet): DeviceSet {
  if (left.kind === 'all' || right.kind === 'all') return ALL;
  if (left.kind === 'none') return right;
  if (right.kind === 'none') return left;
  return { kind: 'union', left, right };
}

/**
 * The union of many sets as a balanced tree, so that its depth, and the nesting
 * of the SQL compiled from it, grow with the logarithm of their number: 1,000
 * sets are 10 levels deep, not 1,000.
 */
export function unionOf(sets: readonly DeviceSet[]): DeviceSet {
  const [first] = sets;
  if (!first) return NONE;
  if (sets.length === 1) return first;
  const middle = Math.ceil(sets.length / 2);
  return union(unionOf(sets.slice(0, middle)), unionOf(sets.slice(middle)));
}

export function difference(left: DeviceSet, right: DeviceSet): DeviceSet {
  if (left.kind === 'none' || right.kind === 'all') return NONE;
  if (right.kind === 'none') return left;
  return { kind: 'difference', left, right };
}
