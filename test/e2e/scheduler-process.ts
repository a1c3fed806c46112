/**
 * A worker process for the crash tests: a scheduler (and nothing else) on
 * the database given as the first argument, with the batch size given as
 * the second. It prints `ready` once started and runs until killed, or
 * until it kills itself at the fault point JOURNEYD_FAULT arms, as
 * `journeyd serve` does (src/fault-points.ts).
 */
import { Scheduler } from '../../src/engine/scheduler.js';
import { armFaultPoint, parseFaultArming } from '../../src/fault-points.js';
import { createLogger } from '../../src/logger.js';
import { Store } from '../../src/store/store.js';

const [databaseUrl, batchSize] = process.argv.slice(2);
if (!databaseUrl || !batchSize) throw new Error('usage: scheduler-process.ts <database-url> <batch-size>');
armFaultPoint(parseFaultArming(process.env.JOURNEYD_FAULT));
const store = Store.open(databaseUrl);
// A 100 ms poll: a missed wake-up costs the crash tests a tenth of a second.
const scheduler = new Scheduler(store, { logger: createLogger('silent'), batchSize: Number(batchSize), pollIntervalMs: 100 });
await scheduler.start();
console.log('ready');
