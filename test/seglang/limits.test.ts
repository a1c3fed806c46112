import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSeglang, SeglangError } from '../../src/domain/seglang/index.js';
import { SEGLANG_LIMITS } from '../../src/domain/seglang/limits.js';
import { chainOfSteps, listOfValues, parenthesized, unionOfTerms } from './limit-filters.js';

const CODE = 'XXXXX-XXXXX';
const { length, depth, setTerms, listValues, daysAgo } = SEGLANG_LIMITS;

function assertRefused(text: string, message: string, position?: number): void {
  assert.throws(
    () => parseSeglang(text),
    (error: unknown) => {
      assert.ok(error instanceof SeglangError, `${text.slice(0, 60)}: ${String(error)}`);
      assert.equal(error.message, message);
      assert.equal(error.position, position);
      return true;
    },
  );
}

describe('seglang parser: cost limits', () => {
  it('refuses a filter longer than the limit before reading it', () => {
    const padded = (size: number) => 'T("a", any)'.padEnd(size, ' ');
    assert.doesNotThrow(() => parseSeglang(padded(length)));
    assertRefused(padded(length + 1), `filter is ${length + 1} characters long; at most ${length} are allowed`);
    assertRefused(parenthesized(1_000_000, 'T("a", any)'), `filter is 2000011 characters long; at most ${length} are allowed`);
  });

  it('accepts parentheses nested to the limit and refuses the next level before descending into it', () => {
    assert.doesNotThrow(() => parseSeglang(parenthesized(depth, 'T("a", any)')));
    const message = `filter nests parentheses ${depth + 1} deep at position ${depth + 1}; at most ${depth} are allowed`;
    assertRefused(parenthesized(depth + 1, 'T("a", any)'), message, depth + 1);
    assertRefused(parenthesized(10_000, 'T("a", any)'), message, depth + 1);
  });

  it('counts A, T, AT and chained steps as set terms, refusing more than the limit with their number', () => {
    assert.doesNotThrow(() => parseSeglang(unionOfTerms(setTerms, (i) => `T("a", eq, ${i})`)));
    assert.doesNotThrow(() => parseSeglang(chainOfSteps(`A("${CODE}")`, setTerms - 1, (i) => `.tags("a").eq(${i})`)));
    assert.doesNotThrow(() => parseSeglang(unionOfTerms(setTerms, (i) => `AT("${CODE}", "a", eq, ${i})`)));

    const overUnion = unionOfTerms(setTerms + 1, (i) => `T("a", eq, ${i})`);
    const position = overUnion.lastIndexOf('T(') + 1;
    assertRefused(overUnion, `filter has ${setTerms + 1} set terms; at most ${setTerms} are allowed`, position);
    assertRefused(
      unionOfTerms(4_000, () => 'T("a", any)'),
      `filter has 4000 set terms; at most ${setTerms} are allowed`,
      setTerms * 'T("a", any) + '.length + 1,
    );
    const steps = chainOfSteps(`A("${CODE}")`, 3_000, () => '.tags("a").any()');
    assertRefused(steps, `filter has 3001 set terms; at most ${setTerms} are allowed`, `A("${CODE}")`.length + (setTerms - 1) * 16 + 2);
    assertRefused(
      `A("${CODE}") * (${unionOfTerms(setTerms, () => 'T("a", any)')})`,
      `filter has ${setTerms + 1} set terms; at most ${setTerms} are allowed`,
      `A("${CODE}") * (${unionOfTerms(setTerms - 1, () => 'T("a", any)')} + `.length + 1,
    );
  });

  it('counts the values of all lists together, refusing more than the limit with their number and where it went over', () => {
    const over = `filter has ${listValues + 1} list values; at most ${listValues} are allowed`;
    assert.doesNotThrow(() => parseSeglang(`T("a", in, ${listOfValues(listValues, (i) => `"v${i}"`)})`));
    assertRefused(`T("a", in, ${listOfValues(listValues + 1, (i) => i)})`, over, 12);
    assertRefused(`T("a", notin, ${listOfValues(10_000, () => 0)})`, `filter has 10000 list values; at most ${listValues} are allowed`, 15);
    assertRefused(`A("${CODE}", ${listOfValues(listValues + 1, () => '"ios"')})`, over, 18);

    const half = listValues / 2;
    const twoLists = (second: number) => `T("a", in, ${listOfValues(half, (i) => i)}) * T("b", in, ${listOfValues(second, (i) => i)})`;
    assert.doesNotThrow(() => parseSeglang(twoLists(half)));
    assertRefused(twoLists(half + 1), over, `T("a", in, ${listOfValues(half, (i) => i)}) * T("b", in, `.length + 1);
  });

  it('bounds daysago to the limit either way, naming the number as written', () => {
    assert.doesNotThrow(() => parseSeglang(`T("a", daysago, gt, ${daysAgo})`));
    assert.doesNotThrow(() => parseSeglang(`T("a", daysago, lt, -${daysAgo})`));
    const refused = (days: string) => `operator daysago counts at most ${daysAgo} days either way, got ${days}`;
    assertRefused(`T("a", daysago, gt, ${daysAgo + 1})`, refused(String(daysAgo + 1)), 21);
    assertRefused(`T("a", daysago, lt, -${daysAgo + 1})`, refused(`-${daysAgo + 1}`), 21);
    assertRefused('T("a", daysago, gte, 9007199254740992)', refused('9007199254740992'), 22);
    assertRefused('A("XXXXX-XXXXX").tags("a").daysago(eq, 9007199254740993)', refused('9007199254740993'), 40);
  });

  it('refuses a number too large to be a number', () => {
    assertRefused(`T("a", eq, 1${'0'.repeat(400)})`, 'invalid filter: number out of range at position 12', 12);
  });

  it('refuses strings the stores cannot keep, written or escaped, in values, tag names and codes', () => {
    const cases: [string, string, number][] = [
      ['T("a", eq, "x\\u0000y")', 'contains a NUL character', 12],
      ['T("a", eq, "x\u0000y")', 'contains a NUL character', 12],
      ['T("a\\u0000", any)', 'contains a NUL character', 3],
      ['T("a", in, ["ok", "\\ud800"])', 'contains a lone UTF-16 surrogate', 19],
      ['T("a", eq, "\\uDE00x")', 'contains a lone UTF-16 surrogate', 12],
      [`AT("${CODE}\\u0000", "a", any)`, 'contains a NUL character', 4],
    ];
    for (const [text, problem, position] of cases)
      assertRefused(text, `invalid filter: string ${problem} at position ${position}`, position);
    assert.equal(parseSeglang('T("a", eq, "\\ud83d\\ude00")').kind, 'tag', 'an escaped surrogate pair is one character');
  });
});
