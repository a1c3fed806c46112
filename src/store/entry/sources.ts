import type { EntryStageSource } from '../schema.js';
import type { EntrySource } from './types.js';

/** How each source is written in the stage's `source` column. */
export const SOURCE_CODE: Readonly<Record<EntrySource, EntryStageSource>> = { request: 0, segment: 1 };

/** The table that keeps each source's progress and lease. */
export const PROGRESS_TABLE = { request: 'entry_requests', segment: 'segment_entries' } as const satisfies Record<EntrySource, string>;

/** The status an entry goes back to when its worker releases it. */
export const CLAIMABLE_STATUS = { request: 'queued', segment: 'scheduled' } as const satisfies Record<EntrySource, string>;
