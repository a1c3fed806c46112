import { encodeVersion, parseDateValue, TAG_TYPE_NAMES, TagType } from '../tags.js';
import type { Condition, Literal, SegExpr } from './ast.js';
import {
  ALL,
  difference,
  intersect,
  NONE,
  union,
  type DeviceSet,
  type EncodedValue,
  type TaggedSet,
  type ValueColumn,
  type ValueMatch,
} from './device-set.js';
import { SeglangError } from './errors.js';

/** A tag as the application declared it; `id` is whatever the store keys its values by. */
export interface TagDeclaration {
  readonly id: number;
  readonly type: TagType;
}

export interface ResolveContext {
  /** The application the expression is narrowed to; `A()` of any other code selects nothing. */
  readonly applicationCode: string;
  /** Declarations of the application's tags, by name (at least those the expression names). */
  readonly tags: ReadonlyMap<string, TagDeclaration>;
  /** "Now" for `daysago`, in epoch milliseconds. */
  readonly now: number;
}

const SECONDS_PER_DAY = 86_400;
const SECONDS_PER_MINUTE = 60;

/** Every tag name an expression mentions, so the caller can load just those declarations. */
export function tagNamesOf(expr: SegExpr): Set<string> {
  const names = new Set<string>();
  const visit = (e: SegExpr): void => {
    if (e.kind === 'tag') names.add(e.tag);
    else if (e.kind !== 'app') {
      visit(e.left);
      visit(e.right);
    }
  };
  visit(expr);
  return names;
}

/**
 * Gives an expression its meaning inside one application: checks each value
 * against its tag's declared type (throwing a SeglangError that names the tag,
 * the type and the value) and encodes it as `device_tags` stores it.
 */
export function resolveSeglang(expr: SegExpr, context: ResolveContext): DeviceSet {
  switch (expr.kind) {
    case 'app':
      if (expr.code !== context.applicationCode) return NONE;
      return expr.deviceTypes ? { kind: 'platforms', deviceTypes: expr.deviceTypes } : ALL;
    case 'tag': {
      const declaration = context.tags.get(expr.tag);
      // An undeclared tag is set on no device.
      if (!declaration) return expr.condition.op === 'notset' ? ALL : NONE;
      return resolveCondition(new TagValues(expr.tag, declaration), expr.condition, context.now);
    }
    case 'intersect':
      return intersect(resolveSeglang(expr.left, context), resolveSeglang(expr.right, context));
    case 'union':
      return union(resolveSeglang(expr.left, context), resolveSeglang(expr.right, context));
    case 'difference':
      return difference(resolveSeglang(expr.left, context), resolveSeglang(expr.right, context));
  }
}

function resolveCondition(tag: TagValues, condition: Condition, now: number): DeviceSet {
  const { op } = condition;
  switch (op) {
    case 'any':
      return tag.set({ kind: 'any' });
    case 'notset':
      return difference(ALL, tag.set({ kind: 'any' }));
    case 'eq':
      return tag.matching([condition.value]);
    case 'in':
      return tag.matching(condition.values);
    case 'noteq':
      return tag.notMatching([condition.value]);
    case 'notin':
      return tag.notMatching(condition.values);
    case 'gte':
      tag.requireOrdered(op);
      return tag.set({ kind: 'range', min: tag.lowerBound(condition.value) });
    case 'lte':
      tag.requireOrdered(op);
      return tag.set({ kind: 'range', max: tag.upperBound(condition.value) });
    case 'between':
      tag.requireOrdered(op);
      return tag.set({ kind: 'range', min: tag.lowerBound(condition.min), max: tag.upperBound(condition.max) });
    case 'daysago':
      tag.requireDate();
      return tag.set(daysAgoRange(condition.comparison, condition.days, now));
  }
}

/**
 * `daysago` counts whole days: floor((now - value) / 1 day). Each comparison
 * with N becomes a range of the stored epoch seconds, so the index answers it:
 * days > N ⇔ value ≤ now − (N+1)·day; days ≥ N ⇔ value ≤ now − N·day;
 * days < N ⇔ value > now − N·day; days ≤ N ⇔ value > now − (N+1)·day.
 */
function daysAgoRange(comparison: 'gt' | 'gte' | 'lt' | 'lte' | 'eq', days: number, now: number): ValueMatch {
  const nowSeconds = Math.floor(now / 1000);
  const daysBefore = (n: number): number => nowSeconds - n * SECONDS_PER_DAY;
  switch (comparison) {
    case 'gt':
      return { kind: 'range', max: daysBefore(days + 1) };
    case 'gte':
      return { kind: 'range', max: daysBefore(days) };
    case 'lt':
      return { kind: 'range', min: daysBefore(days) + 1 };
    case 'lte':
      return { kind: 'range', min: daysBefore(days + 1) + 1 };
    case 'eq':
      return { kind: 'range', min: daysBefore(days + 1) + 1, max: daysBefore(days) };
  }
}

/** Inclusive epoch-second bounds a date literal stands for: a whole day, a whole minute, or one second. */
interface DateInterval {
  readonly first: number;
  readonly last: number;
}

const COLUMN_BY_TYPE: Record<TagType, ValueColumn> = {
  [TagType.Integer]: 'int_value',
  [TagType.Boolean]: 'int_value',
  [TagType.Date]: 'int_value',
  [TagType.Decimal]: 'real_value',
  [TagType.String]: 'text_value',
  [TagType.List]: 'text_value',
  [TagType.Version]: 'text_value',
};

/** One declared tag: turns literals into stored values and conditions into device sets. */
class TagValues {
  private readonly column: ValueColumn;

  constructor(
    private readonly name: string,
    private readonly declaration: TagDeclaration,
  ) {
    this.column = COLUMN_BY_TYPE[declaration.type];
  }

  set(match: ValueMatch, negated = false): TaggedSet {
    const multiValued = this.declaration.type === TagType.List;
    return { kind: 'tagged', tagId: this.declaration.id, column: this.column, match, negated, multiValued };
  }

  /** eq / in: a List tag contains one of the values; any other tag equals one (a date: falls in its interval). */
  matching(literals: readonly Literal[]): DeviceSet {
    if (this.declaration.type === TagType.Date) {
      const spans = literals.map((literal) => {
        const { first, last } = this.dateInterval(literal);
        return { min: first, max: last };
      });
      const [only] = spans;
      if (!only) return NONE;
      return spans.length === 1 ? this.set({ kind: 'range', ...only }) : this.set({ kind: 'spans', spans });
    }
    if (literals.length === 0) return NONE;
    return this.set({ kind: 'equals', values: literals.map((literal) => this.encode(literal)) });
  }

  /**
   * noteq / notin: the tag is set, to none of the values. A single-valued tag
   * has one row, so "a row that does not match" says it in one index scan; a
   * List tag needs "set, minus those containing one of the values".
   */
  notMatching(literals: readonly Literal[]): DeviceSet {
    const type = this.declaration.type;
    if (literals.length === 0) return this.set({ kind: 'any' });
    if (type === TagType.Date && literals.length === 1) {
      const { first, last } = this.dateInterval(literals[0] as Literal);
      return this.set({ kind: 'range', min: first, max: last }, true);
    }
    if (type !== TagType.List && type !== TagType.Date) {
      return this.set({ kind: 'equals', values: literals.map((literal) => this.encode(literal)) }, true);
    }
    return difference(this.set({ kind: 'any' }), this.matching(literals));
  }

  lowerBound(literal: Literal): EncodedValue {
    return this.declaration.type === TagType.Date ? this.dateInterval(literal).first : this.encode(literal);
  }

  upperBound(literal: Literal): EncodedValue {
    return this.declaration.type === TagType.Date ? this.dateInterval(literal).last : this.encode(literal);
  }

  requireOrdered(op: string): void {
    const type = this.declaration.type;
    if (type === TagType.List || type === TagType.Boolean) {
      throw new SeglangError(`operator ${op} does not apply to ${TAG_TYPE_NAMES[type]} tag "${this.name}"`);
    }
  }

  requireDate(): void {
    if (this.declaration.type !== TagType.Date) {
      throw new SeglangError(`operator daysago needs a Date tag; "${this.name}" is ${TAG_TYPE_NAMES[this.declaration.type]}`);
    }
  }

  private encode(literal: Literal): EncodedValue {
    const { value } = literal;
    switch (this.declaration.type) {
      case TagType.Integer: {
        const n = toNumber(value);
        if (n === undefined) throw this.typeError(literal, 'a number');
        if (!Number.isSafeInteger(n)) throw this.typeError(literal, 'an integer');
        return n;
      }
      case TagType.Decimal: {
        const n = toNumber(value);
        if (n === undefined) throw this.typeError(literal, 'a number');
        return n;
      }
      case TagType.Boolean: {
        if (value === true || value === 'true' || value === 1 || value === '1') return 1;
        if (value === false || value === 'false' || value === 0 || value === '0') return 0;
        throw this.typeError(literal, 'a boolean (true or false)');
      }
      case TagType.Version: {
        // A version may be written unquoted (1.10): its source text is the version, not the float 1.1.
        const encoded = typeof value === 'boolean' ? undefined : encodeVersion(literal.raw);
        if (encoded === undefined) throw this.typeError(literal, 'a version (a.b.c.d)');
        return encoded;
      }
      case TagType.Date:
        return this.dateInterval(literal).first;
      case TagType.String:
      case TagType.List:
        if (typeof value !== 'string') throw this.typeError(literal, 'a string');
        return value;
    }
  }

  /**
   * A date literal covers the span its precision names: "2024-05-01" the whole
   * UTC day, "2024-05-01 10:30" that minute, epoch seconds that second. So
   * `eq, "2024-05-01"` matches anything that day and `lte` includes all of it.
   */
  private dateInterval(literal: Literal): DateInterval {
    const { value } = literal;
    const seconds = typeof value === 'boolean' ? undefined : parseDateValue(value);
    if (seconds === undefined) {
      throw this.typeError(literal, 'a date (YYYY-MM-DD, YYYY-MM-DD HH:mm or epoch seconds)');
    }
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
      return { first: seconds, last: seconds + SECONDS_PER_DAY - 1 };
    }
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}$/.test(value)) {
      return { first: seconds, last: seconds + SECONDS_PER_MINUTE - 1 };
    }
    return { first: seconds, last: seconds };
  }

  private typeError(literal: Literal, expected: string): SeglangError {
    const shown = typeof literal.value === 'string' ? JSON.stringify(literal.value) : literal.raw;
    return new SeglangError(
      `tag "${this.name}" is ${TAG_TYPE_NAMES[this.declaration.type]}; ${shown} is not ${expected}`,
      literal.position,
    );
  }
}

/** Numbers, and strings that spell one ("30"), as the Device API accepts them for numeric tags. */
function toNumber(value: Literal['value']): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}
