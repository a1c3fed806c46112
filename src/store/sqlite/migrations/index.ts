import type { Migration } from 'kysely';
import * as core from './0001_core.js';
import * as journeyRevision from './0200_journey_revision.js';
import * as startByApi from './0400_start_by_api.js';
import * as messages from './0500_messages.js';
import * as engine from './0700_engine.js';
import * as eventAndSegmentEntry from './0800_event_and_segment_entry.js';
import * as activeRunsIndex from './1000_active_runs_index.js';
import * as oneEntryStage from './1100_one_entry_stage.js';
import * as entryRequestIdCount from './1300_entry_request_id_count.js';

/** Every migration of this dialect, by name; names sort in the order they apply. */
export const migrations: Record<string, Migration> = {
  '0001_core': core,
  '0200_journey_revision': journeyRevision,
  '0400_start_by_api': startByApi,
  '0500_messages': messages,
  '0700_engine': engine,
  '0800_event_and_segment_entry': eventAndSegmentEntry,
  '1000_active_runs_index': activeRunsIndex,
  '1100_one_entry_stage': oneEntryStage,
  '1300_entry_request_id_count': entryRequestIdCount,
};
