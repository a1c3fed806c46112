import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AbSplit, assignBranch, compileAbSplit, murmurHash3 } from '../../src/domain/ab-split.js';

const JOURNEY = '6f1c2a0e-8d4b-4c61-9f3e-2b7a5d9c1e08';
const POINT = 'b3e9d7c5-1a2f-4e6b-8c0d-9f7e5a3b1c2d';
const USERS = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);

function split(branches: { key: string; percent: number }[], point = POINT): AbSplit {
  const compiled = compileAbSplit(JOURNEY, point, branches);
  assert.ok(compiled.ok, compiled.ok ? '' : compiled.error);
  return compiled.value;
}

function shares(ab: AbSplit, users: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(ab.keys.map((key) => [key, 0]));
  for (const user of users) {
    const key = assignBranch(ab, user);
    counts.set(key, counts.get(key)! + 1);
  }
  return new Map([...counts].map(([key, count]) => [key, (count / users.length) * 100]));
}

describe('murmurHash3', () => {
  it('matches the published MurmurHash3 x86_32 test vectors', () => {
    const vectors: [string, number, number][] = [
      ['', 0, 0],
      ['', 1, 0x514e28b7],
      ['', 0xffffffff, 0x81f16f39],
      ['\0\0\0\0', 0, 0x2362f9de],
      ['a', 0x9747b28c, 0x7fa09ea6],
      ['ab', 0x9747b28c, 0x74875592],
      ['abc', 0x9747b28c, 0xc84a62dd],
      ['abcd', 0x9747b28c, 0xf0478627],
      ['Hello, world!', 0x9747b28c, 0x24884cba],
      ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
      ['ππππππππ', 0x9747b28c, 0xd58063c1],
    ];
    for (const [text, seed, expected] of vectors) assert.equal(murmurHash3(text, seed), expected, JSON.stringify(text));
  });

  it('gives the same hash for a long id before and after other ids', () => {
    const long = 'ü'.repeat(5_000);
    const first = murmurHash3(long, 7);
    murmurHash3('short', 7);
    assert.equal(murmurHash3(long, 7), first);
    assert.notEqual(murmurHash3(`${long}x`, 7), first);
  });
});

describe('compileAbSplit', () => {
  const refused = (branches: unknown) => {
    const compiled = compileAbSplit(JOURNEY, POINT, branches as { key: string; percent: number }[]);
    assert.ok(!compiled.ok, 'expected the branches to be refused');
    return compiled.error;
  };

  it('refuses branches that are missing, unnamed, duplicated or out of range', () => {
    assert.equal(refused([]), 'ab_splitter.branches must be a non-empty list of {key, percent}');
    assert.equal(refused(undefined), 'ab_splitter.branches must be a non-empty list of {key, percent}');
    assert.equal(refused([{ key: '', percent: 100 }]), 'ab_splitter.branches[0].key must be a non-empty string');
    assert.equal(
      refused([
        { key: 'A', percent: 50 },
        { key: 'A', percent: 50 },
      ]),
      'ab_splitter.branches[1].key "A" is used by more than one branch',
    );
    assert.equal(
      refused([
        { key: 'A', percent: 150 },
        { key: 'B', percent: -50 },
      ]),
      'ab_splitter.branches[0].percent must be a number from 0 to 100',
    );
    assert.equal(refused([{ key: 'A', percent: '100' }]), 'ab_splitter.branches[0].percent must be a number from 0 to 100');
  });

  it('refuses percents that do not sum to 100', () => {
    assert.equal(
      refused([
        { key: 'A', percent: 50 },
        { key: 'B', percent: 40 },
      ]),
      'ab_splitter.branches percents must sum to 100, not 90',
    );
  });

  it('accepts fractional percents that sum to 100', () => {
    split([
      { key: 'A', percent: 33.33 },
      { key: 'B', percent: 33.33 },
      { key: 'C', percent: 33.34 },
    ]);
  });
});

describe('assignBranch', () => {
  it('gives a user the same branch every time', () => {
    const ab = split([
      { key: 'A', percent: 50 },
      { key: 'B', percent: 50 },
    ]);
    const again = split([
      { key: 'A', percent: 50 },
      { key: 'B', percent: 50 },
    ]);
    for (const user of USERS.slice(0, 1_000)) assert.equal(assignBranch(again, user), assignBranch(ab, user));
  });

  for (const percents of [
    [50, 50],
    [10, 20, 70],
    [33.33, 33.33, 33.34],
    [1, 99],
    [25, 25, 25, 25],
  ]) {
    it(`keeps each branch within ±1 percentage point of ${percents.join('/')} over 100,000 users`, () => {
      const ab = split(percents.map((percent, i) => ({ key: `branch${i}`, percent })));
      const actual = shares(ab, USERS);
      percents.forEach((percent, i) => {
        const share = actual.get(`branch${i}`)!;
        assert.ok(Math.abs(share - percent) <= 1, `branch${i}: ${share.toFixed(2)}% for ${percent}%`);
      });
    });
  }

  it('never picks a 0% branch and always picks a 100% one', () => {
    const ab = split([
      { key: 'never', percent: 0 },
      { key: 'always', percent: 100 },
      { key: 'nor', percent: 0 },
    ]);
    assert.deepEqual(
      shares(ab, USERS.slice(0, 10_000)),
      new Map([
        ['never', 0],
        ['always', 100],
        ['nor', 0],
      ]),
    );
  });

  it('splits independently at two points of the same journey', () => {
    const half = [
      { key: 'A', percent: 50 },
      { key: 'B', percent: 50 },
    ];
    const first = split(half, 'point-1');
    const second = split(half, 'point-2');
    const bothA = USERS.filter((user) => assignBranch(first, user) === 'A' && assignBranch(second, user) === 'A');
    const share = (bothA.length / USERS.length) * 100;
    assert.ok(Math.abs(share - 25) <= 1, `${share.toFixed(2)}% of users are in A at both points; expected 25%`);
  });
});
