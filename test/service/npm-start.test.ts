import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../support/wait-until.js';

/**
 * `npm start` as the README runs it: it serves from the build that `npm
 * install` made (the `prepare` script), and a signal sent to npm reaches the
 * server, which shuts down gracefully rather than being left running.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STARTUP_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 30_000;

/** SIGKILL to every process left in the group led by `pid`, if any. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is gone: everything in it exited.
  }
}

describe('npm start', () => {
  let dir: string;
  before(() => {
    assert.ok(existsSync(join(ROOT, 'dist/cli/main.js')), 'no dist/: npm install runs the build (the prepare script)');
    dir = mkdtempSync(join(tmpdir(), 'journeyd-npm-start-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`serves without building, and ${signal} to npm stops the server`, async (t) => {
      const startedAt = Date.now();
      const npm = spawn('npm', ['start'], {
        cwd: ROOT,
        env: {
          ...process.env,
          JOURNEYD_DATABASE_URL: `sqlite:${join(dir, `${signal}.db`)}`,
          HOST: '127.0.0.1',
          PORT: '0',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so that cleanup can reach a server npm left behind.
        detached: true,
      });
      let output = '';
      npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      let exitCode: number | null | undefined;
      npm.once('close', (code) => (exitCode = code));
      try {
        const [, url] = await waitUntil(
          'npm start to serve',
          () => /listening on (http:\/\/\S+)/.exec(output) ?? undefined,
          STARTUP_TIMEOUT_MS,
        );
        t.diagnostic(`npm start served after ${Date.now() - startedAt} ms`);
        assert.doesNotMatch(output, /tsc -p/, 'npm start compiled TypeScript');
        assert.equal((await fetch(`${url}/healthz`)).status, 200);

        npm.kill(signal);
        await waitUntil('npm to exit', () => exitCode !== undefined, EXIT_TIMEOUT_MS);
        assert.equal(exitCode, 0, output);
        assert.match(output, /"msg":"shutdown complete"/);
        await assert.rejects(fetch(`${url}/healthz`), 'the server still answers after npm exited');
      } finally {
        killGroup(npm.pid);
      }
    });
  }
});
