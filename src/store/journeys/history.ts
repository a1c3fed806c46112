import type { Kysely } from 'kysely';
import type { Dialect } from '../backend.js';
import { PROGRESS_TABLE, SOURCE_CODE } from '../entry/sources.js';
import type { Database } from '../schema.js';

/** Where each dialect stages an entry's audience. */
const STAGE_TABLE = { sqlite: 'entry_stage', postgres: 'entry_stage_chunks' } as const satisfies Record<Dialect, keyof Database>;

/** Every table with rows of one journey, each before the tables its rows refer to (deliveries → outbox → runs → requests). */
const JOURNEY_TABLES = [
  'message_deliveries',
  'outbox',
  'journey_point_counters',
  'runs',
  'entry_rate_limits',
  'entry_requests',
  'journey_event_triggers',
  'segment_entries',
] as const satisfies readonly (keyof Database)[];

/** Deletes everything a journey left behind, its own row excepted, in `trx`. */
export async function deleteJourneyHistory(trx: Kysely<Database>, dialect: Dialect, journeyId: number): Promise<void> {
  for (const source of ['request', 'segment'] as const) {
    await trx
      .deleteFrom(STAGE_TABLE[dialect])
      .where('source', '=', SOURCE_CODE[source])
      .where('source_id', 'in', trx.selectFrom(PROGRESS_TABLE[source]).select('id').where('journey_id', '=', journeyId))
      .execute();
  }
  for (const table of JOURNEY_TABLES) await trx.deleteFrom(table).where('journey_id', '=', journeyId).execute();
}
