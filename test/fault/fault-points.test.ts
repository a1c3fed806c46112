import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { faultPointLine, parseFaultArming } from '../../src/fault-points.js';
import { readConfig } from '../../src/config.js';
import { startJourneyd } from '../support/journeyd-process.js';
import { createTestDatabase } from '../support/backends.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `marks` arrivals at a fault point in a child armed with `fault`; returns how it ended. */
function arriveInChild(fault: string, marks: number) {
  const script = `
    import { armFaultPoint, faultPoint, parseFaultArming } from './src/fault-points.ts';
    armFaultPoint(parseFaultArming(${JSON.stringify(fault)}));
    for (let i = 1; i <= ${marks}; i++) {
      console.log('arrival ' + i);
      faultPoint('scheduler.batch.after-commit');
    }
    console.log('survived');`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  return { signal: child.signal, stdout: child.stdout, stderr: child.stderr };
}

describe('fault points (JOURNEYD_FAULT)', () => {
  it('parses "<point>:<n>" and refuses an unknown point or a count below 1', () => {
    assert.equal(parseFaultArming(undefined), undefined);
    assert.equal(parseFaultArming(''), undefined);
    assert.deepEqual(parseFaultArming('entry.batch.before-commit:3'), { point: 'entry.batch.before-commit', arrival: 3 });
    for (const bad of [
      'entry.batch.befor-commit:3',
      'entry.batch.before-commit',
      'entry.batch.before-commit:0',
      'entry.batch.before-commit:-1',
      ':2',
    ]) {
      assert.throws(() => parseFaultArming(bad), /JOURNEYD_FAULT must be/, bad);
    }
    assert.throws(() => readConfig({ JOURNEYD_FAULT: 'nowhere:1' }), /JOURNEYD_FAULT must be/);
  });

  it('kills the process with SIGKILL at the n-th arrival at the armed point, after printing its line', () => {
    const died = arriveInChild('scheduler.batch.after-commit:3', 5);
    assert.equal(died.signal, 'SIGKILL');
    assert.equal(died.stdout, 'arrival 1\narrival 2\narrival 3\n');
    assert.equal(died.stderr, `${faultPointLine('scheduler.batch.after-commit')}\n`);
  });

  it('leaves the process alone at other points and when unarmed', () => {
    for (const fault of ['entry.batch.after-commit:1', '']) {
      const lived = arriveInChild(fault, 3);
      assert.equal(lived.signal, null, fault);
      assert.match(lived.stdout, /survived/);
    }
  });

  it('an unknown point fails `journeyd serve` at start-up', async () => {
    const database = await createTestDatabase('sqlite');
    try {
      await assert.rejects(startJourneyd(database.url, { JOURNEYD_FAULT: 'scheduler.batch.mid-air:1' }), /JOURNEYD_FAULT must be/);
    } finally {
      await database.drop();
    }
  });
});
