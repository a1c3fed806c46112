import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { killJourneyd, startJourneyd, type JourneydProcess } from '../support/journeyd-process.js';
import { waitUntil } from '../support/wait-until.js';

/**
 * The README's quickstart, walked as a new user would: its shell blocks run
 * in order against a fresh `journeyd serve` on SQLite, each in bash with
 * `set -euo pipefail` (so a refused call fails it), and each reply the README
 * shows must be exactly what the block before it prints. A read (a block
 * without a request body) is repeated until it matches, since the journey
 * runs in the background.
 */

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
/** Placeholders of the quickstart's first block, as a user replaces them with what `npm start` printed. */
const DEFAULT_URL = 'http://127.0.0.1:8080';
const TOKEN_PLACEHOLDER = '<the server API token npm start printed>';
const READ_TIMEOUT_MS = 30_000;
const READ_RETRY_MS = 200;

interface Step {
  readonly script: string;
  /** The reply the README shows after the block, when it shows one. */
  readonly reply?: string;
}

function quickstartSteps(): { setup: string; steps: Step[] } {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf('\n## Quickstart\n');
  assert.ok(start >= 0, 'README.md has a Quickstart section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map(([, lang, body]) => ({ lang, body: body as string }));
  const [first, ...rest] = blocks;
  assert.ok(
    first?.lang === 'sh' && first.body.includes('export JOURNEYD='),
    'the quickstart begins with the block that sets JOURNEYD, APP and TOKEN',
  );
  const steps: Step[] = [];
  rest.forEach((block, index) => {
    if (block.lang !== 'sh') return;
    const next = rest[index + 1];
    steps.push({ script: block.body, ...(next?.lang === 'json' ? { reply: next.body.trim() } : {}) });
  });
  return { setup: first.body, steps };
}

/** The names the steps assign (`J=$(…)`), carried from one step's shell to the next. */
function assignedNames(steps: readonly Step[]): string[] {
  return [...new Set(steps.flatMap((step) => [...step.script.matchAll(/^(\w+)=/gm)].map((match) => match[1] as string)))];
}

describe('README quickstart', () => {
  let dir: string;
  let journeyd: JourneydProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'journeyd-quickstart-'));
    journeyd = await startJourneyd(`sqlite:${join(dir, 'journeyd.db')}`);
  });

  after(async () => {
    await killJourneyd(journeyd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs as written against a fresh server and answers the replies it shows', async () => {
    // Printed just after the line startJourneyd waits for.
    const [, application, token] = await waitUntil(
      'npm start to print the application and token it bootstrapped',
      () => /bootstrap application: (\S+)\nbootstrap server API token: (\S+)\n/.exec(journeyd.output()) ?? undefined,
    );
    assert.ok(application && token);
    const { setup, steps } = quickstartSteps();
    assert.match(setup, new RegExp(`APP=${application}\\b`), 'the quickstart names the application a fresh server bootstraps');
    const prologue = setup.replace(DEFAULT_URL, journeyd.url ?? '').replace(TOKEN_PLACEHOLDER, token);
    const names = assignedNames(steps);
    const state = join(dir, 'state.sh');
    writeFileSync(state, '');

    const carry = names.map((name) => `if [ -n "\${${name}-}" ]; then declare -p ${name}; fi`).join('\n');
    const run = (script: string) => {
      const result = spawnSync(
        'bash',
        ['-c', `set -euo pipefail\n${prologue}\nsource ${state}\n${script}\n{\n${carry}\n} > ${state}.next\nmv ${state}.next ${state}`],
        { cwd: dir, encoding: 'utf8' },
      );
      assert.equal(result.status, 0, `the step failed:\n${script}\n${result.stderr}${result.stdout}`);
      return result.stdout.trim();
    };

    for (const step of steps) {
      let printed = run(step.script);
      if (step.reply === undefined) continue;
      // A read (no request body) may run before the background work it shows is done.
      const isRead = !step.script.includes(' -d ');
      const deadline = Date.now() + READ_TIMEOUT_MS;
      while (isRead && printed !== step.reply && Date.now() < deadline) {
        await sleep(READ_RETRY_MS);
        printed = run(step.script);
      }
      assert.equal(printed, step.reply, `the reply the README shows after:\n${step.script}`);
    }
  });
});
