import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupMoves } from '../../src/store/runs/move-groups.js';

const NOW = 1_800_000_000_000;

describe('groupMoves', () => {
  it('puts runs that end up in the same place in one group, in the order they came', () => {
    const groups = groupMoves(
      [
        { kind: 'exit', runId: 1, at: 'exit' },
        { kind: 'advance', runId: 2, to: 'push' },
        { kind: 'exit', runId: 3, at: 'exit' },
        { kind: 'hold', runId: 4, at: 'wait', until: NOW + 60_000 },
        { kind: 'advance', runId: 5, to: 'push' },
        { kind: 'hold', runId: 6, at: 'wait', until: NOW + 60_000 },
      ],
      NOW,
    );
    assert.deepEqual(groups, [
      { pointUuid: 'exit', state: 'exited', dueAt: NOW, waitingPoint: null, runIds: [1, 3] },
      { pointUuid: 'push', state: 'active', dueAt: NOW, waitingPoint: null, runIds: [2, 5] },
      { pointUuid: 'wait', state: 'active', dueAt: NOW + 60_000, waitingPoint: 'wait', runIds: [4, 6] },
    ]);
  });

  it('keeps apart holds at one point until different instants, and a hold from an advance to the same point', () => {
    const groups = groupMoves(
      [
        { kind: 'hold', runId: 1, at: 'send', until: NOW + 3_600_000 },
        { kind: 'hold', runId: 2, at: 'send', until: NOW + 7_200_000 },
        { kind: 'advance', runId: 3, to: 'send' },
        { kind: 'exit', runId: 4, at: 'send' },
      ],
      NOW,
    );
    assert.equal(groups.length, 4);
    assert.deepEqual(
      groups.map((g) => g.runIds),
      [[1], [2], [3], [4]],
    );
  });

  it('makes no group of no moves', () => {
    assert.deepEqual(groupMoves([], NOW), []);
  });
});
