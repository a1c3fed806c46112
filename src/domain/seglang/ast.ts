/**
 * The typed syntax tree of a seglang expression (docs/seglang.md). Positions are
 * 1-based character (code point) offsets into the source text, so an error can
 * point at the literal or name it is about.
 */

/** A set of devices: an application's devices, a tag condition, or a set operation on two sets. */
export type SegExpr = AppExpr | TagExpr | SetExpr;

/** `A("CODE")` or `A("CODE", ["ios", ...])`: devices of an application, optionally of those platforms. */
export interface AppExpr {
  readonly kind: 'app';
  readonly code: string;
  /** Device types (docs/device-api.md) the platform list names; `undefined` when no list is given. */
  readonly deviceTypes?: readonly number[];
  readonly position: number;
}

/** `T("Tag", op[, value])`, or one `.tags("Tag").op(value)` step of the chained form. */
export interface TagExpr {
  readonly kind: 'tag';
  readonly tag: string;
  readonly condition: Condition;
  /** Where the tag's name starts. */
  readonly position: number;
}

export type SetOperator = 'intersect' | 'union' | 'difference';

/** `left * right`, `left + right` or `left \ right`. */
export interface SetExpr {
  readonly kind: SetOperator;
  readonly left: SegExpr;
  readonly right: SegExpr;
}

export type Scalar = string | number | boolean;

/** A value as written: the parsed value, and for numbers the source text (a Version tag reads `1.10` as text). */
export interface Literal {
  readonly value: Scalar;
  readonly raw: string;
  readonly position: number;
}

export type ValueOperator = 'eq' | 'noteq' | 'gte' | 'lte';
export type ListOperator = 'in' | 'notin';
export type PresenceOperator = 'any' | 'notset';
export type DaysAgoComparison = 'gt' | 'gte' | 'lt' | 'lte' | 'eq';

export type Operator = ValueOperator | ListOperator | PresenceOperator | 'between' | 'daysago';

export type Condition =
  | { readonly op: ValueOperator; readonly value: Literal }
  | { readonly op: ListOperator; readonly values: readonly Literal[] }
  | { readonly op: 'between'; readonly min: Literal; readonly max: Literal }
  | { readonly op: PresenceOperator }
  | { readonly op: 'daysago'; readonly comparison: DaysAgoComparison; readonly days: number };

export const OPERATORS: readonly Operator[] = ['eq', 'noteq', 'in', 'notin', 'gte', 'lte', 'between', 'any', 'notset', 'daysago'];

export const DAYS_AGO_COMPARISONS: readonly DaysAgoComparison[] = ['gt', 'gte', 'lt', 'lte', 'eq'];
