import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileTrigger,
  entersAt,
  eventAttributeValues,
  segmentEntryDueAt,
  triggersOf,
  wakeTarget,
} from '../../src/domain/event-triggers.js';
import type { Point } from '../../src/domain/journey.js';

/** Unit tests of the pure rules behind event and segment entry (src/domain/event-triggers.ts). */

const exit: Point = { uuid: 'exit', point_type: 'POINT_TYPE_EXIT', point_data: {}, outputs: [] };

function eventPoint(uuid: string, eventName: string, deactivated?: boolean): Point {
  return {
    uuid,
    point_type: 'POINT_TYPE_EVENT',
    point_data: { message_bus: { event_name: eventName, is_deactivated: deactivated } },
    outputs: [{ key: 'default', next_point_uuid: 'exit' }],
  };
}

const waitPoint: Point = {
  uuid: 'wait',
  point_type: 'POINT_TYPE_WAIT_EVENT',
  point_data: {
    wait_event: {
      branches: [
        { key: 'big', event_name: 'purchase', event_conditions: [{ attribute: 'amount', operator: 'gte', value: 100 }] },
        { key: 'any', event_name: 'purchase' },
        { key: 'left', event_name: 'unsubscribe' },
      ],
      timeout_seconds: 60,
    },
  },
  outputs: [
    { key: 'big', next_point_uuid: 'vip' },
    { key: 'any', next_point_uuid: 'thanks' },
    { key: 'left', next_point_uuid: 'exit' },
    { key: 'default', next_point_uuid: 'exit' },
  ],
};

describe('triggersOf', () => {
  it('lists active EVENT points and WAIT_EVENT points with their distinct event names, in point order', () => {
    const points = [exit, eventPoint('off', 'signup', true), eventPoint('on', 'signup', false), waitPoint];
    assert.deepEqual(triggersOf(points), [
      { kind: 'entry', pointUuid: 'on', pointOrder: 2, eventNames: ['signup'] },
      { kind: 'wait', pointUuid: 'wait', pointOrder: 3, eventNames: ['purchase', 'unsubscribe'] },
    ]);
  });
});

describe('compiled triggers', () => {
  it('enter on the event name, case-sensitively', () => {
    const trigger = compileTrigger(eventPoint('on', 'signup'));
    assert.ok(trigger.kind === 'entry');
    assert.equal(entersAt(trigger, { name: 'signup', attributes: {} }), true);
    assert.equal(entersAt(trigger, { name: 'Signup', attributes: {} }), false);
  });

  it('wake to the next point of the first matching branch, or nowhere', () => {
    const trigger = compileTrigger(waitPoint);
    assert.ok(trigger.kind === 'wait');
    assert.equal(wakeTarget(trigger, { name: 'purchase', attributes: { amount: 150 } }), 'vip');
    assert.equal(wakeTarget(trigger, { name: 'purchase', attributes: { amount: 15 } }), 'thanks');
    assert.equal(wakeTarget(trigger, { name: 'unsubscribe', attributes: {} }), 'exit');
    assert.equal(wakeTarget(trigger, { name: 'browse', attributes: {} }), undefined);
  });

  it('refuse a point that reacts to no event', () => {
    assert.throws(() => compileTrigger(exit), /reacts to no event/);
  });
});

describe('eventAttributeValues', () => {
  it('keeps strings and writes other values as text', () => {
    assert.deepEqual(eventAttributeValues({ plan: 'pro', seats: 3, ratio: 0.5, trial: false, coupon: null, colors: ['red', 2, true] }), {
      plan: 'pro',
      seats: '3',
      ratio: '0.5',
      trial: 'false',
      coupon: '',
      colors: '["red",2,true]',
    });
  });

  it('keeps an attribute named __proto__ as an ordinary key', () => {
    const values = eventAttributeValues(JSON.parse('{"__proto__": "x"}') as Record<string, unknown>);
    assert.ok(Object.hasOwn(values, '__proto__'));
    assert.equal(Object.getPrototypeOf(values), Object.prototype);
  });
});

describe('segmentEntryDueAt', () => {
  const startedAt = Date.parse('2030-06-01T12:00:00Z');

  it('is the start without start_at, and when start_at is not later', () => {
    assert.equal(segmentEntryDueAt(undefined, startedAt), startedAt);
    assert.equal(segmentEntryDueAt('2030-06-01T11:00:00Z', startedAt), startedAt);
    assert.equal(segmentEntryDueAt('2030-06-01T12:00:00Z', startedAt), startedAt);
  });

  it('is start_at: an instant with an offset, UTC without one', () => {
    assert.equal(segmentEntryDueAt('2030-06-01T15:00:00+02:00', startedAt), Date.parse('2030-06-01T13:00:00Z'));
    assert.equal(segmentEntryDueAt('2030-06-01T18:30', startedAt), Date.parse('2030-06-01T18:30:00Z'));
    assert.equal(segmentEntryDueAt('2030-06-02', startedAt), Date.parse('2030-06-02T00:00:00Z'));
  });
});
