import { DEFAULT_OUTPUT } from '../../domain/journey.js';
import { allLeave, type PreparedPoint } from './types.js';

/**
 * Entry points (START_BY_API, START_BY_SEGMENT, EVENT): entry inserts a run
 * at its entry point, due at once; executing the entry point passes it on
 * by its default output.
 */
export function preparePassThrough(): PreparedPoint {
  return { execute: async (runs) => ({ decisions: allLeave(runs, DEFAULT_OUTPUT) }) };
}
