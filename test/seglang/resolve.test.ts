import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceSet } from '../../src/domain/seglang/device-set.js';
import { parseSeglang, SeglangError } from '../../src/domain/seglang/index.js';
import { resolveSeglang, tagNamesOf, type TagDeclaration } from '../../src/domain/seglang/resolve.js';
import { encodeVersion, TagType } from '../../src/domain/tags.js';

const CODE = 'XXXXX-XXXXX';
/** 2024-06-15 12:00:30.500 UTC */
const NOW = Date.UTC(2024, 5, 15, 12, 0, 30, 500);
const NOW_SECONDS = Math.floor(NOW / 1000);
const DAY = 86_400;

const TAGS = new Map<string, TagDeclaration>([
  ['Age', { id: 1, type: TagType.Integer }],
  ['City', { id: 2, type: TagType.String }],
  ['Interests', { id: 3, type: TagType.List }],
  ['Seen', { id: 4, type: TagType.Date }],
  ['Premium', { id: 5, type: TagType.Boolean }],
  ['Score', { id: 6, type: TagType.Decimal }],
  ['Version', { id: 7, type: TagType.Version }],
]);

const resolve = (text: string): DeviceSet => resolveSeglang(parseSeglang(text), { applicationCode: CODE, tags: TAGS, now: NOW });

const tagged = (tagId: number, column: string, match: unknown, negated = false) => ({
  kind: 'tagged',
  tagId,
  column,
  match,
  negated,
  multiValued: column === 'text_value' && tagId === 3,
});
const range = (min?: number | string, max?: number | string) => ({
  kind: 'range',
  ...(min !== undefined ? { min } : {}),
  ...(max !== undefined ? { max } : {}),
});

describe('seglang semantics', () => {
  it('simplifies A(app) away, so A(app) * T(...) is one tag scan', () => {
    assert.deepEqual(resolve(`A("${CODE}") * T("City", eq, "London")`), tagged(2, 'text_value', { kind: 'equals', values: ['London'] }));
    assert.deepEqual(resolve(`AT("${CODE}", "Age", gte, 18)`), tagged(1, 'int_value', range(18)));
    assert.deepEqual(resolve(`A("${CODE}")`), { kind: 'all' });
    assert.deepEqual(resolve(`A("${CODE}") + T("Age", any)`), { kind: 'all' });
    assert.deepEqual(resolve(`T("Age", any) \\ A("${CODE}")`), { kind: 'none' });
    assert.deepEqual(resolve(`A("${CODE}", ["ios", "android"])`), { kind: 'platforms', deviceTypes: [1, 3] });
  });

  it('selects nothing from another application, and from undeclared tags unless notset', () => {
    assert.deepEqual(resolve('A("OTHER-00000")'), { kind: 'none' });
    assert.deepEqual(resolve('A("OTHER-00000") + T("Age", any)'), tagged(1, 'int_value', { kind: 'any' }));
    assert.deepEqual(resolve('T("Nope", eq, 1)'), { kind: 'none' });
    assert.deepEqual(resolve('T("Nope", noteq, "x")'), { kind: 'none' });
    assert.deepEqual(resolve('T("Nope", notset)'), { kind: 'all' });
  });

  it('encodes values as device_tags stores them', () => {
    assert.deepEqual(resolve('T("Age", in, [30, "31"])'), tagged(1, 'int_value', { kind: 'equals', values: [30, 31] }));
    assert.deepEqual(resolve('T("Premium", in, [true, false, 1, "0"])'), tagged(5, 'int_value', { kind: 'equals', values: [1, 0, 1, 0] }));
    assert.deepEqual(resolve('T("Score", between, [-1.5, "2.25"])'), tagged(6, 'real_value', range(-1.5, 2.25)));
    const v110 = encodeVersion('1.10') as string;
    assert.deepEqual(resolve('T("Version", gte, "1.10")'), tagged(7, 'text_value', range(v110)));
    assert.deepEqual(resolve('T("Version", gte, 1.10)'), tagged(7, 'text_value', range(v110)), 'an unquoted version keeps its text');
  });

  it('reads a date literal as the span its precision names', () => {
    const may1 = Date.UTC(2024, 4, 1) / 1000;
    assert.deepEqual(resolve('T("Seen", eq, "2024-05-01")'), tagged(4, 'int_value', range(may1, may1 + DAY - 1)));
    assert.deepEqual(resolve('T("Seen", eq, "2024-05-01 10:30")'), tagged(4, 'int_value', range(may1 + 37_800, may1 + 37_859)));
    assert.deepEqual(resolve(`T("Seen", eq, ${may1})`), tagged(4, 'int_value', range(may1, may1)));
    assert.deepEqual(resolve('T("Seen", gte, "2024-05-01")'), tagged(4, 'int_value', range(may1)));
    assert.deepEqual(resolve('T("Seen", lte, "2024-05-01")'), tagged(4, 'int_value', range(undefined, may1 + DAY - 1)));
    assert.deepEqual(resolve('T("Seen", noteq, "2024-05-01")'), tagged(4, 'int_value', range(may1, may1 + DAY - 1), true));
  });

  it('turns daysago into a range of whole days before now (now floored to the second)', () => {
    const before = (days: number) => NOW_SECONDS - days * DAY;
    assert.deepEqual(resolve('T("Seen", daysago, gt, 3)'), tagged(4, 'int_value', range(undefined, before(4))));
    assert.deepEqual(resolve('T("Seen", daysago, gte, 3)'), tagged(4, 'int_value', range(undefined, before(3))));
    assert.deepEqual(resolve('T("Seen", daysago, lt, 3)'), tagged(4, 'int_value', range(before(3) + 1)));
    assert.deepEqual(resolve('T("Seen", daysago, lte, 3)'), tagged(4, 'int_value', range(before(4) + 1)));
    assert.deepEqual(resolve('T("Seen", daysago, eq, 3)'), tagged(4, 'int_value', range(before(4) + 1, before(3))));
    assert.deepEqual(resolve('T("Seen", daysago, eq, 0)'), tagged(4, 'int_value', range(before(1) + 1, NOW_SECONDS)));
  });

  it('says "set to another value" in one scan for single-valued tags, as set-minus-contains for List tags', () => {
    assert.deepEqual(resolve('T("City", noteq, "London")'), tagged(2, 'text_value', { kind: 'equals', values: ['London'] }, true));
    assert.deepEqual(resolve('T("Age", notin, [1, 2])'), tagged(1, 'int_value', { kind: 'equals', values: [1, 2] }, true));
    assert.deepEqual(resolve('T("Interests", noteq, "x")'), {
      kind: 'difference',
      left: tagged(3, 'text_value', { kind: 'any' }),
      right: tagged(3, 'text_value', { kind: 'equals', values: ['x'] }),
    });
    assert.deepEqual(resolve('T("Age", notset)'), {
      kind: 'difference',
      left: { kind: 'all' },
      right: tagged(1, 'int_value', { kind: 'any' }),
    });
  });

  it('treats an empty in-list as matching nothing and an empty notin-list as "set"', () => {
    assert.deepEqual(resolve('T("City", in, [])'), { kind: 'none' });
    assert.deepEqual(resolve('T("Seen", in, [])'), { kind: 'none' });
    assert.deepEqual(resolve('T("City", notin, [])'), tagged(2, 'text_value', { kind: 'any' }));
  });

  it('points a type error at the offending value', () => {
    assert.throws(
      () => resolve('T("Age", in, [1, "x"])'),
      (error: unknown) =>
        error instanceof SeglangError && error.message === 'tag "Age" is Integer; "x" is not a number' && error.position === 18,
    );
    assert.throws(() => resolve('T("Score", eq, true)'), { message: 'tag "Score" is Decimal; true is not a number' });
    assert.throws(() => resolve('T("Version", eq, true)'), { message: 'tag "Version" is Version; true is not a version (a.b.c.d)' });
    assert.throws(() => resolve('T("Interests", eq, 1)'), { message: 'tag "Interests" is List; 1 is not a string' });
    assert.throws(() => resolve('T("Seen", eq, 1.5)'), {
      message: 'tag "Seen" is Date; 1.5 is not a date (YYYY-MM-DD, YYYY-MM-DD HH:mm or epoch seconds)',
    });
    assert.throws(() => resolve('T("Premium", gte, true)'), { message: 'operator gte does not apply to Boolean tag "Premium"' });
    assert.throws(() => resolve('T("City", daysago, lt, 1)'), { message: 'operator daysago needs a Date tag; "City" is String' });
  });

  it('lists the tag names an expression uses', () => {
    assert.deepEqual([...tagNamesOf(parseSeglang(`A("${CODE}").tags("a").eq(1) + T("b", any) \\ AT("${CODE}", "a", any)`))].sort(), [
      'a',
      'b',
    ]);
  });
});
