import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseSeglang, SeglangError, type SegExpr } from '../../src/domain/seglang/index.js';
import { expressionArbitrary, printSeglang, printStyleArbitrary, withoutPositions } from './arbitraries.js';

const CODE = 'XXXXX-XXXXX';

/** The tree as plain data without positions or source text. */
const tree = (text: string): unknown => withoutPositions(parseSeglang(text));

const app = (code = CODE, deviceTypes?: number[]) => ({ kind: 'app', code, ...(deviceTypes ? { deviceTypes } : {}) });
const tag = (name: string, condition: Record<string, unknown>) => ({ kind: 'tag', tag: name, condition });
const value = (v: string | number | boolean) => ({ value: v });
const set = (kind: string, left: unknown, right: unknown) => ({ kind, left, right });

function assertSyntaxError(text: string, message: string, position?: number): void {
  assert.throws(
    () => parseSeglang(text),
    (error: unknown) => {
      assert.ok(error instanceof SeglangError, `${text}: ${String(error)}`);
      assert.equal(error.message, message, text);
      if (position !== undefined) assert.equal(error.position, position, `${text}: position`);
      return true;
    },
  );
}

describe('seglang parser: function form', () => {
  it('parses A, T and AT', () => {
    assert.deepEqual(
      tree(`A("${CODE}") * T("City", eq, "London")`),
      set('intersect', app(), tag('City', { op: 'eq', value: value('London') })),
    );
    assert.deepEqual(
      tree(`AT("${CODE}", "Age", between, [18, 30])`),
      set('intersect', app(), tag('Age', { op: 'between', min: value(18), max: value(30) })),
    );
    assert.deepEqual(tree('T("Last Open", daysago, gt, 3)'), tag('Last Open', { op: 'daysago', comparison: 'gt', days: 3 }));
  });

  it('maps platform names (any case) and device type numbers, without duplicates', () => {
    assert.deepEqual(tree(`A("${CODE}", ["ios", "android"])`), app(CODE, [1, 3]));
    assert.deepEqual(
      tree(
        `A("${CODE}", ["iOS", "OSX", "windows", "amazon", "safari", "chrome", "firefox", "email", "huawei", "sms", "xiaomi", "whatsapp", 1, 3])`,
      ),
      app(CODE, [1, 7, 8, 9, 10, 11, 12, 14, 17, 18, 19, 21, 3]),
    );
    assert.deepEqual(tree(`A("${CODE}", [])`), app());
  });

  it('parses every operator with the value it takes', () => {
    assert.deepEqual(tree('T("a", noteq, "x")'), tag('a', { op: 'noteq', value: value('x') }));
    assert.deepEqual(tree('T("a", in, ["x", 2, true])'), tag('a', { op: 'in', values: [value('x'), value(2), value(true)] }));
    assert.deepEqual(tree('T("a", notin, [])'), tag('a', { op: 'notin', values: [] }));
    assert.deepEqual(tree('T("a", gte, -1.5)'), tag('a', { op: 'gte', value: value(-1.5) }));
    assert.deepEqual(tree('T("a", lte, 0)'), tag('a', { op: 'lte', value: value(0) }));
    assert.deepEqual(tree('T("a", between, 1, 2)'), tag('a', { op: 'between', min: value(1), max: value(2) }));
    assert.deepEqual(tree('T("a", any)'), tag('a', { op: 'any' }));
    assert.deepEqual(tree('T("a", notset)'), tag('a', { op: 'notset' }));
    for (const comparison of ['gt', 'gte', 'lt', 'lte', 'eq']) {
      assert.deepEqual(tree(`T("a", daysago, ${comparison}, 0)`), tag('a', { op: 'daysago', comparison, days: 0 }));
    }
  });

  it('reads operators, function names, comparisons and booleans in any case', () => {
    assert.deepEqual(
      tree(`a("${CODE}") * t("a", EQ, TRUE) + At("${CODE}", "b", DaysAgo, GTE, 2)`),
      tree(`A("${CODE}") * T("a", eq, true) + AT("${CODE}", "b", daysago, gte, 2)`),
    );
  });

  it('reads strings with escapes, and keeps the source text of numbers', () => {
    assert.deepEqual(
      tree(String.raw`T("say \"hi\"", eq, "back\\slash \u00e9 \n")`),
      tag('say "hi"', { op: 'eq', value: value('back\\slash é \n') }),
    );
    assert.deepEqual(tree('T("Город", eq, "Москва 😀")'), tag('Город', { op: 'eq', value: value('Москва 😀') }));
    const parsed = parseSeglang('T("v", gte, 1.10)');
    assert.ok(parsed.kind === 'tag' && parsed.condition.op === 'gte');
    assert.deepEqual(parsed.condition.value, { value: 1.1, raw: '1.10', position: 13 });
  });

  it('ignores whitespace, including none at all', () => {
    assert.deepEqual(tree(`A("${CODE}")*T("a",any)\\T("b",eq,1)`), tree(`  A( "${CODE}" )\n*\tT("a", any)  \\  T("b", eq, 1)  `));
  });
});

describe('seglang parser: chained form', () => {
  it('narrows with each .tags(..).op(..) step', () => {
    assert.deepEqual(
      tree(`A("${CODE}").tags("City").eq("London")`),
      set('intersect', app(), tag('City', { op: 'eq', value: value('London') })),
    );
    assert.deepEqual(
      tree(`A("${CODE}", ["ios"]).tags("City").eq("London").TAGS("Age").Between([18, 30]).tags("Seen").daysago(lt, 7)`),
      set(
        'intersect',
        set(
          'intersect',
          set('intersect', app(CODE, [1]), tag('City', { op: 'eq', value: value('London') })),
          tag('Age', { op: 'between', min: value(18), max: value(30) }),
        ),
        tag('Seen', { op: 'daysago', comparison: 'lt', days: 7 }),
      ),
    );
  });

  it('takes the same arguments as the function form, and no argument for any and notset', () => {
    assert.deepEqual(tree(`A("${CODE}").tags("a").in(["x", "y"])`), tree(`A("${CODE}") * T("a", in, ["x", "y"])`));
    assert.deepEqual(tree(`A("${CODE}").tags("a").between(1, 2)`), tree(`A("${CODE}") * T("a", between, [1, 2])`));
    assert.deepEqual(tree(`A("${CODE}").tags("a").notset()`), tree(`A("${CODE}") * T("a", notset)`));
    assert.deepEqual(tree('(T("a", any) + T("b", any)).tags("c").any()'), tree('(T("a", any) + T("b", any)) * T("c", any)'));
  });
});

describe('seglang parser: precedence', () => {
  const [a, b, c] = ['T("a", any)', 'T("b", any)', 'T("c", any)'];
  const [ta, tb, tc] = [tag('a', { op: 'any' }), tag('b', { op: 'any' }), tag('c', { op: 'any' })];

  it('binds * tighter than + and \\', () => {
    assert.deepEqual(tree(`${a} + ${b} * ${c}`), set('union', ta, set('intersect', tb, tc)));
    assert.deepEqual(tree(`${a} * ${b} + ${c}`), set('union', set('intersect', ta, tb), tc));
    assert.deepEqual(tree(`${a} \\ ${b} * ${c}`), set('difference', ta, set('intersect', tb, tc)));
  });

  it('associates +, \\ and * to the left', () => {
    assert.deepEqual(tree(`${a} \\ ${b} \\ ${c}`), set('difference', set('difference', ta, tb), tc));
    assert.deepEqual(tree(`${a} + ${b} \\ ${c}`), set('difference', set('union', ta, tb), tc));
    assert.deepEqual(tree(`${a} \\ ${b} + ${c}`), set('union', set('difference', ta, tb), tc));
    assert.deepEqual(tree(`${a} * ${b} * ${c}`), set('intersect', set('intersect', ta, tb), tc));
  });

  it('groups with parentheses', () => {
    assert.deepEqual(tree(`(${a} + ${b}) * ${c}`), set('intersect', set('union', ta, tb), tc));
    assert.deepEqual(tree(`${a} \\ (${b} \\ ${c})`), set('difference', ta, set('difference', tb, tc)));
    assert.deepEqual(tree(`((${a}))`), ta);
  });

  it('parses back whatever the printer writes, in either syntax (property)', () => {
    fc.assert(
      fc.property(expressionArbitrary(CODE, 'YYYYY-YYYYY'), printStyleArbitrary, (expr: SegExpr, style) => {
        assert.deepEqual(tree(printSeglang(expr, style)), withoutPositions(expr));
      }),
      { numRuns: 500 },
    );
  });
});

describe('seglang parser: errors name the problem and its 1-based position', () => {
  it('the messages of the contract', () => {
    assertSyntaxError('T("City", eq, "Manchester"', 'invalid filter: expected ")" at position 27', 27);
    assertSyntaxError('T("Country", eqq, "x")', 'unknown operator "eqq" at position 14', 14);
    assertSyntaxError('T("Age", between, [18])', 'operator between needs [min, max]', 19);
    assertSyntaxError('T("Age", between, 18)', 'operator between needs [min, max]', 19);
    assertSyntaxError('T("Age", between, [1, 2, 3])', 'operator between needs [min, max]');
    assertSyntaxError('T("Age", between)', 'operator between needs [min, max]', 10);
  });

  it('syntax errors', () => {
    const cases: [string, string, number][] = [
      ['', 'invalid filter: expected A(...), T(...), AT(...) or "(" at position 1', 1],
      ['   ', 'invalid filter: expected A(...), T(...), AT(...) or "(" at position 4', 4],
      ['T("a", any) T("b", any)', 'invalid filter: expected "+", "*", "\\" or the end of the filter at position 13', 13],
      ['T("a", any) +', 'invalid filter: expected A(...), T(...), AT(...) or "(" at position 14', 14],
      ['(T("a", any)', 'invalid filter: expected ")" at position 13', 13],
      ['T("a, any)', 'invalid filter: unterminated string at position 3', 3],
      ['T("a", eq, "\\x")', 'invalid filter: invalid escape "\\x" in string at position 13', 13],
      ['T("a", eq, "\\u12")', 'invalid filter: invalid \\u escape, expected 4 hex digits at position 13', 13],
      ['T("a", eq, 1) & T("b", any)', 'invalid filter: unexpected character "&" at position 15', 15],
      ['T(a, any)', 'invalid filter: expected a tag name in double quotes at position 3', 3],
      ['T("a" any)', 'invalid filter: expected "," at position 7', 7],
      ['T("a", 5)', 'invalid filter: expected an operator (eq, noteq, in, ...) at position 8', 8],
      ['T("a", eq, London)', 'invalid filter: expected a value (a "string", a number, true or false) at position 12', 12],
      ['T("a", in, [1, [2]])', 'invalid filter: expected a value (a "string", a number, true or false) at position 16', 16],
      [`A("${CODE}").city("x")`, 'invalid filter: expected "tags" after "." at position 18', 18],
      [`A("${CODE}").tags("x")`, 'invalid filter: expected "." at position 27', 27],
      [`A("${CODE}", "ios")`, 'invalid filter: expected a list of platforms like ["ios", "android"] at position 18', 18],
      ['😀 T("a", any)', 'invalid filter: unexpected character "😀" at position 1', 1],
      ['T("😀", any) $', 'invalid filter: unexpected character "$" at position 13', 13],
    ];
    for (const [text, message, position] of cases) assertSyntaxError(text, message, position);
  });

  it('unknown names and malformed codes', () => {
    assertSyntaxError('B("x")', 'unknown function "B" at position 1', 1);
    assertSyntaxError(`A("${CODE}").tags("a").eqq(1)`, 'unknown operator "eqq" at position 28', 28);
    assertSyntaxError('T("a", daysago, gtt, 3)', 'unknown daysago comparison "gtt" at position 17 (expected gt, gte, lt, lte or eq)', 17);
    assertSyntaxError('A("abc")', 'invalid application code "abc" at position 3 (expected XXXXX-XXXXX)', 3);
    assertSyntaxError('AT("xxxxx-xxxxx", "a", any)', 'invalid application code "xxxxx-xxxxx" at position 4 (expected XXXXX-XXXXX)', 4);
    assertSyntaxError(`A("${CODE}", ["ios", "blackberry"])`, 'unknown platform "blackberry" at position 26', 26);
    assertSyntaxError(`A("${CODE}", [2])`, 'unknown platform 2 at position 19', 19);
  });

  it('operators given the wrong values', () => {
    const cases: [string, string][] = [
      ['T("a", eq)', 'operator eq needs a value'],
      ['T("a", eq, 1, 2)', 'operator eq takes one value'],
      ['T("a", eq, [1])', 'operator eq takes one value, not a list'],
      ['T("a", gte, ["x"])', 'operator gte takes one value, not a list'],
      ['T("a", in, "x")', 'operator in needs a list [value, ...]'],
      ['T("a", notin)', 'operator notin needs a list [value, ...]'],
      ['T("a", any, 1)', 'operator any takes no value'],
      ['T("a", notset, "x")', 'operator notset takes no value'],
      ['T("a", daysago, 3)', 'operator daysago needs a comparison and a number of days, e.g. daysago, gt, 3'],
      ['T("a", daysago, gt)', 'operator daysago needs a comparison and a number of days, e.g. daysago, gt, 3'],
      ['T("a", daysago, gt, 1.5)', 'operator daysago needs a whole number of days'],
      ['T("a", daysago, gt, "3")', 'operator daysago needs a whole number of days'],
    ];
    for (const [text, message] of cases) assertSyntaxError(text, message);
  });

  it('counts positions in characters, so text before the problem in any script does not shift it', () => {
    assertSyntaxError('T("Ünïcødé 😀😀", eqq, 1)', 'unknown operator "eqq" at position 17', 17);
  });
});
