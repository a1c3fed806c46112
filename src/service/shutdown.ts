import { constants } from 'node:os';
import type { RunningService } from './serve.js';

/**
 * The first SIGTERM or SIGINT stops the service gracefully and exits 0, or 1
 * if stopping fails or takes longer than `timeoutMs`; a second signal exits
 * at once with 128 + the signal's number, as a shell reports a killed process.
 * Work left unfinished is not lost: its leases expire and a worker takes it again.
 */
export function stopOnSignals(service: RunningService, timeoutMs: number): void {
  const { logger } = service;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal during shutdown; exiting at once');
      process.exit(128 + constants.signals[signal]);
    }
    stopping = true;
    const startedAt = Date.now();
    logger.info({ signal, timeoutMs }, 'shutting down: refusing new requests and work, finishing what is in hand');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out; exiting with work in hand, which is taken again when its leases expire');
      process.exit(1);
    }, timeoutMs);
    service.stop().then(
      () => {
        clearTimeout(deadline);
        logger.info({ durationMs: Date.now() - startedAt }, 'shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
