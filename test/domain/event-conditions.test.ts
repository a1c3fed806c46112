import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileEventMatcher,
  compileWaitEvent,
  type EventMatcher,
  eventMatches,
  firstMatchingBranch,
  type WaitEventRule,
} from '../../src/domain/event-conditions.js';

function matcher(conditions: unknown[], eventName = 'purchase'): EventMatcher {
  const compiled = compileEventMatcher(eventName, conditions);
  assert.ok(compiled.ok, compiled.ok ? '' : compiled.error);
  return compiled.value;
}

function refusal(conditions: unknown, eventName = 'purchase'): string {
  const compiled = compileEventMatcher(eventName, conditions);
  assert.ok(!compiled.ok, 'expected the conditions to be refused');
  return compiled.error;
}

/** Which of `attributes` satisfy the one condition `{attribute: "x", operator, value}`. */
function matching(operator: string, value: unknown, candidates: unknown[]): unknown[] {
  const condition = value === undefined ? { attribute: 'x', operator } : { attribute: 'x', operator, value };
  const m = matcher([condition]);
  return candidates.filter((x) => eventMatches(m, 'purchase', x === undefined ? {} : { x }));
}

describe('eventMatches', () => {
  it('needs the exact event name', () => {
    const m = matcher([]);
    assert.equal(eventMatches(m, 'purchase', {}), true);
    assert.equal(eventMatches(m, 'Purchase', {}), false);
    assert.equal(eventMatches(m, 'purchase_refund', {}), false);
  });

  it('matches any event of that name without conditions', () => {
    const compiled = compileEventMatcher('purchase', undefined);
    assert.ok(compiled.ok);
    assert.equal(eventMatches(compiled.value, 'purchase', null), true);
  });

  it('needs every condition to hold', () => {
    const m = matcher([
      { attribute: 'amount', operator: 'gte', value: 10 },
      { attribute: 'currency', operator: 'eq', value: 'EUR' },
    ]);
    assert.equal(eventMatches(m, 'purchase', { amount: 12, currency: 'EUR' }), true);
    assert.equal(eventMatches(m, 'purchase', { amount: 12, currency: 'USD' }), false);
    assert.equal(eventMatches(m, 'purchase', { amount: 8, currency: 'EUR' }), false);
    assert.equal(eventMatches(m, 'purchase', null), false);
  });

  it('reads only the event’s own attributes', () => {
    assert.deepEqual(matching('any', undefined, [undefined]), []);
    const m = matcher([{ attribute: 'toString', operator: 'any' }]);
    assert.equal(eventMatches(m, 'purchase', {}), false);
    assert.equal(eventMatches(m, 'purchase', { toString: 'yes' }), true);
  });

  describe('eq and noteq', () => {
    it('compare numbers by value, reading numeric strings', () => {
      assert.deepEqual(matching('eq', 10, [10, 10.0, '10', ' 10 ', '1e1', 11, '10a', '', true, null, undefined]), [
        10,
        10.0,
        '10',
        ' 10 ',
        '1e1',
      ]);
    });

    it('compare strings case-sensitively, reading numbers and booleans as their text', () => {
      assert.deepEqual(matching('eq', 'Gold', ['Gold', 'gold', 'Gold ', 5]), ['Gold']);
      assert.deepEqual(matching('eq', '10', [10, '10', '10.0']), [10, '10']);
      assert.deepEqual(matching('eq', 'true', [true, 'true', 1]), [true, 'true']);
    });

    it('compare booleans, reading "true"/"false" and 1/0', () => {
      assert.deepEqual(matching('eq', true, [true, 'true', 1, '1', false, 'yes', null]), [true, 'true', 1, '1']);
    });

    it('match a list attribute that contains the value', () => {
      assert.deepEqual(matching('eq', 'red', [['red', 'blue'], ['blue'], []]), [['red', 'blue']]);
    });

    it('noteq needs the attribute set to something else', () => {
      assert.deepEqual(matching('noteq', 'EUR', ['USD', 'EUR', null, undefined, ['EUR'], ['USD']]), ['USD', ['USD']]);
    });
  });

  describe('ordering', () => {
    const amounts = [5, 10, 15, '15', 'abc', null, undefined, [20]];

    it('gt, gte, lt and lte compare numbers by value', () => {
      assert.deepEqual(matching('gt', 10, amounts), [15, '15']);
      assert.deepEqual(matching('gte', 10, amounts), [10, 15, '15']);
      assert.deepEqual(matching('lt', 10, amounts), [5]);
      assert.deepEqual(matching('lte', 10, amounts), [5, 10]);
      assert.deepEqual(matching('gt', 9, ['10']), ['10'], 'numerically, not as text');
    });

    it('compare strings by code unit order, as ISO dates sort', () => {
      assert.deepEqual(matching('gte', '2025-06-01', ['2025-05-31', '2025-06-01', '2025-12-01']), ['2025-06-01', '2025-12-01']);
      assert.deepEqual(matching('lt', 'b', ['a', 'B', 'b', 'c']), ['a', 'B']);
    });

    it('between is inclusive at both ends', () => {
      assert.deepEqual(matching('between', [10, 20], [9, 10, 15, 20, 21, '20', 'x', undefined]), [10, 15, 20, '20']);
      assert.deepEqual(matching('between', ['a', 'c'], ['a', 'b', 'c', 'd']), ['a', 'b', 'c']);
    });
  });

  describe('in and notin', () => {
    it('in matches a value equal to one in the list, in that value’s type', () => {
      assert.deepEqual(matching('in', ['gold', 'silver', 3], ['gold', 'Gold', 'bronze', 3, '3', ['x', 'silver'], null]), [
        'gold',
        3,
        '3',
        ['x', 'silver'],
      ]);
    });

    it('notin needs the attribute set to a value outside the list', () => {
      assert.deepEqual(matching('notin', ['gold', 'silver'], ['bronze', 'gold', null, undefined]), ['bronze']);
    });
  });

  it('contains finds a substring, case-sensitively, or a list element', () => {
    assert.deepEqual(matching('contains', 'shoe', ['snowshoes', 'Shoe', ['shoe'], ['shoes'], 5]), ['snowshoes', ['shoe']]);
    assert.deepEqual(matching('contains', 7, [[7, 8], ['7'], 77, '77']), [[7, 8], ['7']]);
  });

  it('any and notset test presence; null counts as not set', () => {
    assert.deepEqual(matching('any', undefined, ['', 0, false, null, undefined]), ['', 0, false]);
    assert.deepEqual(matching('notset', undefined, ['', 0, null, undefined]), [null, undefined]);
  });

  it('takes operator names in any case', () => {
    assert.deepEqual(matching('GTE', 10, [9, 10]), [10]);
  });
});

describe('compileEventMatcher validation', () => {
  it('needs an event name', () => {
    assert.equal(refusal([], ''), 'event_name must be a non-empty string');
  });

  it('names the condition and the problem', () => {
    assert.equal(refusal({}), 'event_conditions must be a list');
    assert.equal(refusal(['amount >= 10']), 'event_conditions[0] must be an object {attribute, operator, value}');
    assert.equal(
      refusal([
        { attribute: 'a', operator: 'eq', value: 1 },
        { operator: 'eq', value: 1 },
      ]),
      'event_conditions[1].attribute must be a non-empty string',
    );
    assert.equal(
      refusal([{ attribute: 'a', operator: 'like', value: 1 }]),
      'event_conditions[0].operator: "like" is not one of eq, noteq, gt, gte, lt, lte, between, in, notin, contains, any, notset',
    );
  });

  it('checks the value against the operator', () => {
    const cases: [unknown, string][] = [
      [{ operator: 'eq' }, 'eq needs a string, number or boolean'],
      [{ operator: 'eq', value: { a: 1 } }, 'eq needs a string, number or boolean'],
      [{ operator: 'noteq', value: Number.NaN }, 'noteq needs a string, number or boolean'],
      [{ operator: 'in', value: [] }, 'in needs a non-empty list of strings, numbers or booleans'],
      [{ operator: 'notin', value: 'gold' }, 'notin needs a non-empty list of strings, numbers or booleans'],
      [{ operator: 'gt', value: true }, 'gt needs a number or a string'],
      [{ operator: 'between', value: [20, 10] }, 'between needs [min, max]: two numbers or two strings with min <= max'],
      [{ operator: 'between', value: [1, 'z'] }, 'between needs [min, max]: two numbers or two strings with min <= max'],
      [{ operator: 'contains', value: ['a'] }, 'contains needs a string, number or boolean'],
      [{ operator: 'any', value: 'x' }, 'any takes no value'],
    ];
    for (const [condition, message] of cases) {
      assert.equal(refusal([{ attribute: 'a', ...(condition as object) }]), `event_conditions[0].value: ${message}`);
    }
  });
});

describe('wait_event points', () => {
  function waitEvent(data: unknown): WaitEventRule {
    const compiled = compileWaitEvent(data as Parameters<typeof compileWaitEvent>[0]);
    assert.ok(compiled.ok, compiled.ok ? '' : compiled.error);
    return compiled.value;
  }

  function waitEventRefusal(data: unknown): string {
    const compiled = compileWaitEvent(data as Parameters<typeof compileWaitEvent>[0]);
    assert.ok(!compiled.ok, 'expected the point to be refused');
    return compiled.error;
  }

  const rule = waitEvent({
    branches: [
      {
        key: 'big_purchase',
        event_name: 'purchase',
        event_conditions: [{ attribute: 'amount', operator: 'gte', value: 100 }],
      },
      { key: 'purchase', event_name: 'purchase' },
      { key: 'unsubscribed', event_name: 'unsubscribe' },
    ],
    timeout_seconds: 3_600,
  });

  it('takes the first branch, in declared order, that the event matches', () => {
    assert.equal(firstMatchingBranch(rule, 'purchase', { amount: 250 }), 'big_purchase');
    assert.equal(firstMatchingBranch(rule, 'purchase', { amount: 20 }), 'purchase');
    assert.equal(firstMatchingBranch(rule, 'unsubscribe', null), 'unsubscribed');
    assert.equal(firstMatchingBranch(rule, 'app_open', {}), undefined);
  });

  it('keeps the timeout in milliseconds', () => {
    assert.equal(rule.timeoutMs, 3_600_000);
  });

  it('names the branch and field of a problem', () => {
    assert.equal(
      waitEventRefusal({ branches: [], timeout_seconds: 60 }),
      'wait_event.branches must be a non-empty list of {key, event_name, event_conditions?}',
    );
    assert.equal(
      waitEventRefusal({ branches: [{ key: 'default', event_name: 'x' }], timeout_seconds: 60 }),
      'wait_event.branches[0].key "default" is reserved for the timeout output',
    );
    assert.equal(
      waitEventRefusal({
        branches: [
          { key: 'a', event_name: 'x' },
          { key: 'a', event_name: 'y' },
        ],
        timeout_seconds: 60,
      }),
      'wait_event.branches[1].key "a" is used by more than one branch',
    );
    assert.equal(
      waitEventRefusal({
        branches: [{ key: 'a', event_name: 'x', event_conditions: [{ attribute: 'n', operator: 'gt' }] }],
        timeout_seconds: 60,
      }),
      'wait_event.branches[0].event_conditions[0].value: gt needs a number or a string',
    );
    assert.equal(
      waitEventRefusal({ branches: [{ key: 'a', event_name: '' }], timeout_seconds: 60 }),
      'wait_event.branches[0].event_name must be a non-empty string',
    );
    for (const timeout of [0, -5, 1.5, '60', undefined, 315_360_001]) {
      assert.equal(
        waitEventRefusal({ branches: [{ key: 'a', event_name: 'x' }], timeout_seconds: timeout }),
        'wait_event.timeout_seconds must be a whole number of seconds from 1 to 315360000',
      );
    }
  });
});
