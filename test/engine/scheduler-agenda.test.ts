import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DueAgenda } from '../../src/engine/due-agenda.js';

const group = (journeyId: number, pointUuid: string) => ({ journeyId, pointUuid });

describe('scheduler agenda', () => {
  it('hands out the group with the earliest due run, and only groups already due', () => {
    const agenda = new DueAgenda();
    agenda.replace([
      { ...group(1, 'late'), nextDueAt: 300 },
      { ...group(1, 'early'), nextDueAt: 100 },
      { ...group(2, 'future'), nextDueAt: 5_000 },
    ]);
    assert.deepEqual(agenda.take(1_000), group(1, 'early'));
    assert.deepEqual(agenda.take(1_000), group(1, 'late'));
    assert.equal(agenda.take(1_000), undefined);
    assert.equal(agenda.earliest(), 5_000);
  });

  it('gives a group to a second loop only while its batches come back full', () => {
    const agenda = new DueAgenda();
    agenda.replace([{ ...group(1, 'p'), nextDueAt: 0 }]);
    assert.deepEqual(agenda.take(10), group(1, 'p'));
    assert.equal(agenda.take(10), undefined, 'in flight, not known to be large');
    assert.equal(agenda.earliest(), undefined, 'nothing to wake for until the batch ends');
    agenda.finished(group(1, 'p'), { taken: 100, full: true, nextDueAt: 5, now: 10 });
    assert.deepEqual(agenda.take(10), group(1, 'p'));
    assert.deepEqual(agenda.take(10), group(1, 'p'), 'large: parallel batches');
  });

  it('forgets a drained group, and learns of points runs advanced to or wait at', () => {
    const agenda = new DueAgenda();
    agenda.replace([{ ...group(1, 'a'), nextDueAt: 0 }]);
    agenda.take(10);
    agenda.finished(group(1, 'a'), { taken: 3, full: false, nextDueAt: null, now: 10 });
    assert.equal(agenda.take(10), undefined);
    agenda.due(group(1, 'wait'), 2_000);
    agenda.due(group(1, 'next'), 10);
    assert.deepEqual(agenda.take(10), group(1, 'next'));
    assert.equal(agenda.earliest(), 2_000);
  });

  it('leaves a group whose due runs another process holds until the next reading', () => {
    const agenda = new DueAgenda();
    agenda.replace([{ ...group(1, 'held'), nextDueAt: 0 }]);
    agenda.take(10);
    agenda.finished(group(1, 'held'), { taken: 0, full: false, nextDueAt: 0, now: 10 });
    assert.equal(agenda.take(20), undefined);
    assert.equal(agenda.earliest(), undefined);
    agenda.replace([{ ...group(1, 'held'), nextDueAt: 0 }]);
    assert.deepEqual(agenda.take(30), group(1, 'held'));
  });

  it('retries a failed group after its back-off, and drops a journey that stopped running', () => {
    const agenda = new DueAgenda();
    agenda.replace([
      { ...group(1, 'a'), nextDueAt: 0 },
      { ...group(2, 'b'), nextDueAt: 0 },
    ]);
    assert.deepEqual(agenda.take(10), group(1, 'a'));
    agenda.failed(group(1, 'a'), 1_000);
    agenda.dropJourney(2);
    assert.equal(agenda.take(500), undefined);
    assert.equal(agenda.earliest(), 1_000);
    assert.deepEqual(agenda.take(1_000), group(1, 'a'));
  });

  it('counts the failures of a group in a row, kept across refreshes and reset by a batch that commits', () => {
    const agenda = new DueAgenda();
    agenda.replace([{ ...group(1, 'a'), nextDueAt: 0 }]);
    assert.equal(agenda.failuresOf(group(1, 'a')), 0);
    agenda.take(10);
    agenda.failed(group(1, 'a'), 20);
    agenda.replace([{ ...group(1, 'a'), nextDueAt: 0 }]);
    assert.equal(agenda.take(19), undefined, 'the back-off survives a refresh');
    assert.deepEqual(agenda.take(20), group(1, 'a'));
    agenda.failed(group(1, 'a'), 40);
    assert.equal(agenda.failuresOf(group(1, 'a')), 2);
    agenda.take(40);
    agenda.finished(group(1, 'a'), { taken: 1, full: false, nextDueAt: 50, now: 40 });
    assert.equal(agenda.failuresOf(group(1, 'a')), 0);
  });

  it('sets a group aside without counting a failure', () => {
    const agenda = new DueAgenda();
    agenda.replace([{ ...group(1, 'a'), nextDueAt: 0 }]);
    agenda.take(10);
    agenda.setAside(group(1, 'a'), Infinity);
    assert.equal(agenda.failuresOf(group(1, 'a')), 0);
    assert.equal(agenda.take(1_000), undefined);
  });
});
