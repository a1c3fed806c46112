/**
 * A second, deliberately naive implementation of seglang (the language of
 * docs/seglang.md) over devices held in memory, for tests only. It shares
 * nothing with the compiler but the syntax tree: values are compared as a
 * person reads them (numbers by value, versions part by part, strings by
 * their UTF-8 bytes, dates by whole days since), not in their stored encoding.
 */
import type { Condition, DaysAgoComparison, Literal, SegExpr } from '../../src/domain/seglang/index.js';
import { TagType } from '../../src/domain/tags.js';

/** A tag value as a client set it: Date as epoch seconds, Version as "1.10.0", List as its elements. */
export type ReferenceValue = number | string | boolean | readonly string[];

export interface ReferenceDevice {
  readonly hwid: string;
  readonly applicationCode: string;
  readonly deviceType: number;
  readonly tags: Readonly<Record<string, ReferenceValue>>;
}

export interface ReferenceWorld {
  /** The application every expression is narrowed to. */
  readonly applicationCode: string;
  /** Its declared tags. */
  readonly tagTypes: ReadonlyMap<string, TagType>;
  readonly devices: readonly ReferenceDevice[];
  /** Epoch milliseconds. */
  readonly now: number;
}

/** The hwids of the application's devices the expression selects, sorted. */
export function referenceSelect(expr: SegExpr, world: ReferenceWorld): string[] {
  return world.devices
    .filter((device) => device.applicationCode === world.applicationCode && matches(expr, device, world))
    .map((device) => device.hwid)
    .sort();
}

function matches(expr: SegExpr, device: ReferenceDevice, world: ReferenceWorld): boolean {
  switch (expr.kind) {
    case 'app':
      return device.applicationCode === expr.code && (!expr.deviceTypes || expr.deviceTypes.includes(device.deviceType));
    case 'tag':
      return tagMatches(expr.tag, expr.condition, device, world);
    case 'intersect':
      return matches(expr.left, device, world) && matches(expr.right, device, world);
    case 'union':
      return matches(expr.left, device, world) || matches(expr.right, device, world);
    case 'difference':
      return matches(expr.left, device, world) && !matches(expr.right, device, world);
  }
}

function tagMatches(name: string, condition: Condition, device: ReferenceDevice, world: ReferenceWorld): boolean {
  const type = world.tagTypes.get(name);
  const raw = device.tags[name];
  const isSet = type !== undefined && raw !== undefined && !(Array.isArray(raw) && raw.length === 0);
  if (condition.op === 'notset') return !isSet;
  if (!isSet || type === undefined || raw === undefined) return false;

  const values: readonly ReferenceValue[] = Array.isArray(raw) ? raw : [raw];
  const equalsOne = (literals: readonly Literal[]) => values.some((v) => literals.some((l) => equal(type, v, l)));
  switch (condition.op) {
    case 'any':
      return true;
    case 'eq':
      return equalsOne([condition.value]);
    case 'in':
      return equalsOne(condition.values);
    case 'noteq':
      return !equalsOne([condition.value]);
    case 'notin':
      return !equalsOne(condition.values);
    case 'gte':
      return values.some((v) => compareToLower(type, v, condition.value) >= 0);
    case 'lte':
      return values.some((v) => compareToUpper(type, v, condition.value) <= 0);
    case 'between':
      return values.some((v) => compareToLower(type, v, condition.min) >= 0 && compareToUpper(type, v, condition.max) <= 0);
    case 'daysago':
      return values.some((v) =>
        compareDays(Math.floor((Math.floor(world.now / 1000) - Number(v)) / 86_400), condition.comparison, condition.days),
      );
  }
}

function compareDays(days: number, comparison: DaysAgoComparison, n: number): boolean {
  switch (comparison) {
    case 'gt':
      return days > n;
    case 'gte':
      return days >= n;
    case 'lt':
      return days < n;
    case 'lte':
      return days <= n;
    case 'eq':
      return days === n;
  }
}

function equal(type: TagType, value: ReferenceValue, literal: Literal): boolean {
  if (type === TagType.Date) {
    const [first, last] = dateSpan(literal);
    return Number(value) >= first && Number(value) <= last;
  }
  return compare(type, value, literal) === 0;
}

/** For gte and a between's min, a date literal stands for its first second. */
function compareToLower(type: TagType, value: ReferenceValue, literal: Literal): number {
  return type === TagType.Date ? Number(value) - dateSpan(literal)[0] : compare(type, value, literal);
}

/** For lte and a between's max, a date literal stands for its last second. */
function compareToUpper(type: TagType, value: ReferenceValue, literal: Literal): number {
  return type === TagType.Date ? Number(value) - dateSpan(literal)[1] : compare(type, value, literal);
}

function compare(type: TagType, value: ReferenceValue, literal: Literal): number {
  switch (type) {
    case TagType.Integer:
    case TagType.Decimal:
      return Number(value) - Number(literal.value);
    case TagType.Boolean:
      return Number(value === true) - Number([true, 1, 'true', '1'].includes(literal.value));
    case TagType.String:
    case TagType.List:
      return Buffer.compare(Buffer.from(String(value)), Buffer.from(String(literal.value)));
    case TagType.Version:
      return compareVersions(String(value), literal.raw);
    case TagType.Date:
      throw new Error('dates compare by span');
  }
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** [first, last] epoch second a date literal covers: a day, a minute, or the second given. */
function dateSpan(literal: Literal): [number, number] {
  const { value } = literal;
  if (typeof value === 'number') return [value, value];
  const text = String(value);
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const start = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])) / 1000;
    return [start, start + 86_399];
  }
  const minute = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})$/.exec(text);
  if (minute) {
    const start = Date.UTC(Number(minute[1]), Number(minute[2]) - 1, Number(minute[3]), Number(minute[4]), Number(minute[5])) / 1000;
    return [start, start + 59];
  }
  const seconds = Number(text);
  return [seconds, seconds];
}
