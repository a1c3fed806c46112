import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JOURNEY_STATUSES, type JourneyStatus } from '../../src/domain/journey.js';
import { editRefusal, LIFECYCLE_ACTIONS, planTransition, type LifecycleAction } from '../../src/domain/lifecycle.js';

describe('journey lifecycle', () => {
  // Every legal move, written out independently of the table in lifecycle.ts.
  const legal: [LifecycleAction, JourneyStatus, JourneyStatus][] = [
    ['start', 'STATUS_DRAFT', 'STATUS_RUNNING'],
    ['start', 'STATUS_PAUSED', 'STATUS_RUNNING'],
    ['pause', 'STATUS_RUNNING', 'STATUS_PAUSED'],
    ['finish', 'STATUS_RUNNING', 'STATUS_FINISHED'],
    ['finish', 'STATUS_PAUSED', 'STATUS_FINISHED'],
    ['draft', 'STATUS_PAUSED', 'STATUS_DRAFT'],
    ['archive', 'STATUS_DRAFT', 'STATUS_ARCHIVED'],
    ['archive', 'STATUS_FINISHED', 'STATUS_ARCHIVED'],
  ];

  it('allows exactly the legal moves', () => {
    for (const action of LIFECYCLE_ACTIONS) {
      for (const from of JOURNEY_STATUSES) {
        const expected = legal.find(([a, f]) => a === action && f === from);
        const plan = planTransition(action, from);
        if (expected) assert.deepEqual(plan, { ok: true, value: { from, to: expected[2] } }, `${action} from ${from}`);
        else assert.equal(plan.ok, false, `${action} from ${from} must be refused`);
      }
    }
  });

  it('names the current and the target state when refusing', () => {
    assert.deepEqual(planTransition('start', 'STATUS_FINISHED'), {
      ok: false,
      error: 'cannot start a journey in STATUS_FINISHED: start moves a journey from STATUS_DRAFT or STATUS_PAUSED to STATUS_RUNNING',
    });
    assert.deepEqual(planTransition('archive', 'STATUS_RUNNING'), {
      ok: false,
      error: 'cannot archive a journey in STATUS_RUNNING: archive moves a journey from STATUS_DRAFT or STATUS_FINISHED to STATUS_ARCHIVED',
    });
  });

  it('lets only drafts and paused journeys be edited', () => {
    assert.equal(editRefusal('STATUS_DRAFT'), undefined);
    assert.equal(editRefusal('STATUS_PAUSED'), undefined);
    assert.equal(
      editRefusal('STATUS_RUNNING'),
      'cannot edit a journey in STATUS_RUNNING: only a journey in STATUS_DRAFT or STATUS_PAUSED can be edited',
    );
    assert.ok(editRefusal('STATUS_FINISHED')?.includes('STATUS_FINISHED'));
    assert.ok(editRefusal('STATUS_ARCHIVED')?.includes('STATUS_ARCHIVED'));
  });
});
