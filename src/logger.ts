import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on process.stdout. Not pino's default destination: at exit that
 * one writes what it still holds in a loop that retries EPIPE forever, so a
 * process whose stdout reader had gone (`journeyd serve | head`) never exited.
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'journeyd' } }, process.stdout);
}

/**
 * Once the reader of stdout has gone, what is written there (log lines and
 * the start-up banner alike) is dropped and the process runs on, instead of
 * dying of an unhandled EPIPE.
 */
export function dropStdoutOnceItsReaderIsGone(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
