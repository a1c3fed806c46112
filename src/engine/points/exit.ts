import type { PreparedPoint } from './types.js';

/** EXIT: every run of the batch leaves the journey (`exited`, counted as passed at the exit point). */
export function prepareExit(): PreparedPoint {
  return { execute: async (runs) => ({ decisions: runs.map((run) => ({ kind: 'exit', runId: run.id })) }) };
}
