import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SINK_ALLOW_LIST } from './http-sink.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STARTUP_TIMEOUT_MS = 60_000;

export interface JourneydProcess {
  readonly child: ChildProcess;
  /** The API's base URL (roles all and api). */
  readonly url: string | undefined;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** The JSON log lines so far, parsed. */
  logLines(): Record<string, unknown>[];
  /** Resolves when the process has exited and its output is all read, with its exit code (null when a signal killed it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `journeyd serve` as a real child process on an ephemeral port; resolves once it reports that it runs. */
export async function startJourneyd(databaseUrl: string, env: Record<string, string> = {}, role = 'all'): Promise<JourneydProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--role', role], {
    cwd: ROOT,
    env: {
      ...process.env,
      JOURNEYD_DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      // Test processes deliver webhooks to sinks on loopback.
      JOURNEYD_WEBHOOK_ALLOW: SINK_ALLOW_LIST,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const started = await new Promise<string | undefined>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`journeyd did not start:\n${output}`)), STARTUP_TIMEOUT_MS);
    const look = () => {
      const match = /journeyd \(\w+\) (?:listening on (http:\/\/\S+)|running)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      resolve(match[1]);
    };
    child.stdout.on('data', look);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`journeyd exited (${code ?? signal}) before it started:\n${output}`));
    });
  });
  return {
    child,
    url: started,
    output: () => output,
    logLines: () =>
      output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    exited,
  };
}

/** Kills it outright if it still runs (test cleanup). */
export async function killJourneyd(process: JourneydProcess): Promise<void> {
  if (process.child.exitCode !== null || process.child.signalCode !== null) return;
  process.child.kill('SIGKILL');
  await process.exited;
}
