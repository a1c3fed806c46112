/**
 * fast-check generators for seglang expressions and device populations, and a
 * printer that writes an expression back as text in either syntax. Used by the
 * parser round-trip property and the SQL-vs-reference property.
 */
import fc from 'fast-check';
import type { Condition, DaysAgoComparison, Literal, SegExpr, TagExpr } from '../../src/domain/seglang/index.js';
import { TagType } from '../../src/domain/tags.js';
import type { ReferenceDevice, ReferenceValue } from '../support/seglang-reference.js';

/** 2024-06-15 12:00:30.500 UTC: not on a second, minute or day boundary, so `daysago` must floor correctly. */
export const NOW = Date.UTC(2024, 5, 15, 12, 0, 30, 500);
const NOW_SECONDS = Math.floor(NOW / 1000);
const DAY = 86_400;

/** The declared tags of every generated application; "Ghost" is never declared. */
export const TAG_TYPES: ReadonlyMap<string, TagType> = new Map([
  ['Age', TagType.Integer],
  ['City', TagType.String],
  ['Interests', TagType.List],
  ['Seen', TagType.Date],
  ['Premium', TagType.Boolean],
  ['Score', TagType.Decimal],
  ['App Version', TagType.Version],
]);
const UNDECLARED_TAG = 'Ghost';

const DEVICE_TYPES = [1, 3, 11, 14];
const PLATFORMS: readonly (string | number)[] = ['ios', 'android', 'chrome', 'email', 'IOS', 11, 7];
/** Includes strings whose UTF-16 and UTF-8 orders differ (U+FFFD vs an emoji) and quoting hazards. */
const STRINGS = ['a', 'b', 'B', 'ab', 'ä', 'a"b', '\\', '😀', '\uFFFD', "'); DROP TABLE devices;--"];
const LIST_ELEMENTS = ['x', 'y', 'z', '😀'];
const DECIMALS = [-1.5, 0, 0.1, 2.25, 3];
const VERSIONS = ['1', '1.9', '1.10', '1.10.0', '2.0.1', '1.9.9.9', '10', '0.0.1'];

/** A date near NOW, mostly within a second of a whole number of days before it, where `daysago` changes. */
const dateValue = fc.oneof(
  { arbitrary: fc.integer({ min: NOW_SECONDS - 12 * DAY, max: NOW_SECONDS + 3 * DAY }), weight: 1 },
  {
    arbitrary: fc
      .tuple(fc.integer({ min: -1, max: 6 }), fc.constantFrom(-1, 0, 0, 1))
      .map(([days, nudge]) => NOW_SECONDS - days * DAY + nudge),
    weight: 3,
  },
);

const valueOf: Record<TagType, fc.Arbitrary<ReferenceValue>> = {
  [TagType.Integer]: fc.integer({ min: -3, max: 5 }),
  [TagType.String]: fc.constantFrom(...STRINGS),
  [TagType.List]: fc.subarray(LIST_ELEMENTS),
  [TagType.Date]: dateValue,
  [TagType.Boolean]: fc.boolean(),
  [TagType.Decimal]: fc.constantFrom(...DECIMALS),
  [TagType.Version]: fc.constantFrom(...VERSIONS),
};

/** Devices of `code` (and a few of `otherCode`), each with a random subset of the declared tags. */
export function devicesArbitrary(code: string, otherCode: string): fc.Arbitrary<ReferenceDevice[]> {
  const tags = fc
    .record(
      Object.fromEntries([...TAG_TYPES].map(([name, type]) => [name, valueOf[type]])) as Record<string, fc.Arbitrary<ReferenceValue>>,
      { requiredKeys: [] },
      // Absent keys are left out, never set to undefined.
    )
    .map((t) => t as Record<string, ReferenceValue>);
  const device = fc.record({
    applicationCode: fc.constantFrom(code, code, code, otherCode),
    deviceType: fc.constantFrom(...DEVICE_TYPES),
    tags,
  });
  return fc.array(device, { minLength: 5, maxLength: 30 }).map((devices) => devices.map((d, i) => ({ ...d, hwid: `h${i}` })));
}

const numberLiteral = (value: number): Literal => ({ value, raw: String(value), position: 0 });
const stringLiteral = (value: string): Literal => ({ value, raw: value, position: 0 });
const booleanLiteral = (value: boolean): Literal => ({ value, raw: String(value), position: 0 });

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Date literals of each precision around NOW: a day, a minute, or epoch seconds. */
const dateLiteral: fc.Arbitrary<Literal> = fc.oneof(
  fc.integer({ min: -12, max: 4 }).map((days) => {
    const d = new Date((NOW_SECONDS - days * DAY) * 1000);
    return stringLiteral(`${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`);
  }),
  dateValue.map((seconds) => {
    const d = new Date(seconds * 1000);
    return stringLiteral(`${d.toISOString().slice(0, 10)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`);
  }),
  dateValue.map(numberLiteral),
);

const literalOf: Record<TagType, fc.Arbitrary<Literal>> = {
  [TagType.Integer]: fc.oneof(
    fc.integer({ min: -4, max: 6 }).map(numberLiteral),
    fc.integer({ min: -4, max: 6 }).map((n) => stringLiteral(String(n))),
  ),
  [TagType.String]: fc.constantFrom(...STRINGS, 'zz', 'A').map(stringLiteral),
  [TagType.List]: fc.constantFrom(...LIST_ELEMENTS, 'w').map(stringLiteral),
  [TagType.Date]: dateLiteral,
  [TagType.Boolean]: fc.oneof(fc.boolean().map(booleanLiteral), fc.constantFrom(0, 1).map(numberLiteral)),
  [TagType.Decimal]: fc.constantFrom(...DECIMALS, -2, 1).map(numberLiteral),
  [TagType.Version]: fc.oneof(
    fc.constantFrom(...VERSIONS, '1.9.10', '2').map(stringLiteral),
    // Unquoted: the source text is the version, so 1.10 must not become 1.1.
    fc.constantFrom('1.10', '1.9', '2', '10').map((raw) => ({ value: Number(raw), raw, position: 0 })),
  ),
};

const COMPARISONS: DaysAgoComparison[] = ['gt', 'gte', 'lt', 'lte', 'eq'];

function conditionOf(type: TagType): fc.Arbitrary<Condition> {
  const literal = literalOf[type];
  const options: fc.WeightedArbitrary<Condition>[] = [
    { arbitrary: fc.constantFrom<Condition>({ op: 'any' }, { op: 'notset' }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constantFrom('eq' as const, 'noteq' as const), value: literal }), weight: 2 },
    {
      arbitrary: fc.record({ op: fc.constantFrom('in' as const, 'notin' as const), values: fc.array(literal, { maxLength: 3 }) }),
      weight: 2,
    },
  ];
  if (type !== TagType.List && type !== TagType.Boolean) {
    options.push(
      { arbitrary: fc.record({ op: fc.constantFrom('gte' as const, 'lte' as const), value: literal }), weight: 2 },
      { arbitrary: fc.record({ op: fc.constant('between' as const), min: literal, max: literal }), weight: 2 },
    );
  }
  if (type === TagType.Date) {
    // Weighted up: each comparison has its own boundary arithmetic to get right.
    const daysAgo = fc.record({
      op: fc.constant('daysago' as const),
      comparison: fc.constantFrom(...COMPARISONS),
      days: fc.integer({ min: -2, max: 7 }),
    });
    options.push({ arbitrary: daysAgo, weight: 8 });
  }
  return fc.oneof(...options);
}

const tagExpr: fc.Arbitrary<TagExpr> = fc.oneof(
  ...[...TAG_TYPES].map(([name, type]) => ({
    arbitrary: conditionOf(type).map((condition): TagExpr => ({ kind: 'tag', tag: name, condition, position: 0 })),
    weight: type === TagType.Date ? 4 : 2,
  })),
  {
    arbitrary: conditionOf(TagType.Integer).map((condition): TagExpr => ({ kind: 'tag', tag: UNDECLARED_TAG, condition, position: 0 })),
    weight: 1,
  },
);

/** Expressions over the tags above and the two application codes. */
export function expressionArbitrary(code: string, otherCode: string): fc.Arbitrary<SegExpr> {
  const app = fc.record({
    code: fc.constantFrom(code, code, code, code, otherCode),
    platforms: fc.option(fc.uniqueArray(fc.constantFrom(...PLATFORMS), { minLength: 1, maxLength: 3, selector: platformKey }), {
      nil: undefined,
    }),
  });
  const appExpr = app.map(({ code: c, platforms }): SegExpr => {
    if (!platforms) return { kind: 'app', code: c, position: 0 };
    return { kind: 'app', code: c, deviceTypes: [...new Set(platforms.map(deviceTypeOf))], position: 0 };
  });
  const { expr } = fc.letrec<{ expr: SegExpr; set: SegExpr }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { arbitrary: tagExpr, weight: 3 },
      { arbitrary: appExpr, weight: 1 },
      { arbitrary: tie('set'), weight: 3 },
    ),
    set: fc.record({
      kind: fc.constantFrom('intersect' as const, 'union' as const, 'difference' as const),
      left: tie('expr'),
      right: tie('expr'),
    }),
  }));
  return expr;
}

function deviceTypeOf(platform: string | number): number {
  if (typeof platform === 'number') return platform;
  return { ios: 1, android: 3, chrome: 11, email: 14 }[platform.toLowerCase()] as number;
}

function platformKey(platform: string | number): number {
  return deviceTypeOf(platform);
}

export interface PrintStyle {
  /** Operators, function names and booleans in upper case. */
  readonly upper: boolean;
  /** `X.tags("T").op(v)` instead of `X * T("T", op, v)` where the right side of `*` is a tag. */
  readonly chained: boolean;
  /** No spaces at all between tokens. */
  readonly compact: boolean;
}

export const printStyleArbitrary: fc.Arbitrary<PrintStyle> = fc.record({
  upper: fc.boolean(),
  chained: fc.boolean(),
  compact: fc.boolean(),
});

/** Writes an expression as seglang text that parses back to the same tree. */
export function printSeglang(expr: SegExpr, style: PrintStyle): string {
  const sep = style.compact ? ',' : ', ';
  const word = (w: string) => (style.upper ? w.toUpperCase() : w);
  const op = (symbol: string) => (style.compact ? symbol : ` ${symbol} `);

  const literal = (l: Literal): string => {
    if (typeof l.value === 'string') return JSON.stringify(l.value);
    if (typeof l.value === 'boolean') return word(String(l.value));
    return l.raw;
  };
  const list = (items: readonly Literal[]) => `[${items.map(literal).join(sep)}]`;
  const args = (c: Condition): string[] => {
    switch (c.op) {
      case 'eq':
      case 'noteq':
      case 'gte':
      case 'lte':
        return [literal(c.value)];
      case 'in':
      case 'notin':
        return [list(c.values)];
      case 'between':
        return [list([c.min, c.max])];
      case 'any':
      case 'notset':
        return [];
      case 'daysago':
        return [word(c.comparison), String(c.days)];
    }
  };
  const tag = (t: TagExpr) => `${word('t')}(${[JSON.stringify(t.tag), word(t.condition.op), ...args(t.condition)].join(sep)})`;
  const chainStep = (t: TagExpr) => `.${word('tags')}(${JSON.stringify(t.tag)}).${word(t.condition.op)}(${args(t.condition).join(sep)})`;

  /** An operand: something `.tags(...)` can follow and `*` needs no parentheses around. */
  const operand = (e: SegExpr): string => {
    switch (e.kind) {
      case 'app': {
        const platforms = e.deviceTypes ? `${sep}[${e.deviceTypes.join(sep)}]` : '';
        return `${word('a')}(${JSON.stringify(e.code)}${platforms})`;
      }
      case 'tag':
        return tag(e);
      case 'intersect':
        if (style.chained && e.right.kind === 'tag') return `${operand(e.left)}${chainStep(e.right)}`;
        return `(${print(e)})`;
      default:
        return `(${print(e)})`;
    }
  };
  const term = (e: SegExpr): string => {
    if (e.kind !== 'intersect') return operand(e);
    if (style.chained && e.right.kind === 'tag') return operand(e);
    return `${term(e.left)}${op('*')}${operand(e.right)}`;
  };
  const print = (e: SegExpr): string => {
    if (e.kind === 'union' || e.kind === 'difference') {
      return `${print(e.left)}${op(e.kind === 'union' ? '+' : '\\')}${term(e.right)}`;
    }
    return term(e);
  };
  return print(expr);
}

/** The tree without positions and source text, for comparing a parse with what was printed. */
export function withoutPositions(expr: SegExpr): unknown {
  return JSON.parse(JSON.stringify(expr, (key, value: unknown) => (key === 'position' || key === 'raw' ? undefined : value)));
}
