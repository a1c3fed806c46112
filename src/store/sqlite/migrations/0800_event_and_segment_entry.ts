import { runStatements } from '../../sql/migration-statements.js';

const STATEMENTS = [
  `CREATE TABLE journey_event_triggers (
     application_id INTEGER NOT NULL,
     event_name TEXT NOT NULL,
     journey_id INTEGER NOT NULL REFERENCES journeys(id),
     point_uuid TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('entry', 'wait')),
     point_order INTEGER NOT NULL,
     allow_reenter INTEGER NOT NULL,
     point TEXT NOT NULL,
     PRIMARY KEY (application_id, event_name, journey_id, point_uuid)) WITHOUT ROWID`,
  `CREATE INDEX journey_event_triggers_by_journey ON journey_event_triggers (journey_id)`,
  `CREATE TABLE segment_entries (
     id INTEGER PRIMARY KEY,
     journey_id INTEGER NOT NULL REFERENCES journeys(id),
     application_id INTEGER NOT NULL,
     point_uuid TEXT NOT NULL,
     filter TEXT NOT NULL,
     due_at INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('scheduled', 'processing', 'done', 'failed', 'cancelled')),
     audience_resolved INTEGER NOT NULL DEFAULT 0,
     selected INTEGER NOT NULL DEFAULT 0,
     entered INTEGER NOT NULL DEFAULT 0,
     skipped_already INTEGER NOT NULL DEFAULT 0,
     attempts INTEGER NOT NULL DEFAULT 0,
     lease_owner TEXT,
     lease_expires_at INTEGER,
     error TEXT,
     created_at INTEGER NOT NULL,
     started_at INTEGER,
     finished_at INTEGER,
     UNIQUE (journey_id, point_uuid))`,
  `CREATE INDEX segment_entries_pending ON segment_entries (due_at) WHERE status IN ('scheduled', 'processing')`,
  `CREATE TABLE segment_entry_audience (
     entry_id INTEGER NOT NULL,
     user_id TEXT NOT NULL,
     PRIMARY KEY (entry_id, user_id)) WITHOUT ROWID`,
];

/**
 * Event- and segment-driven entry (docs/entry-and-events.md):
 * - journey_event_triggers: the EVENT entry points and WAIT_EVENT points of
 *   running journeys, keyed by (application, event name), kept in step with
 *   journey status by the lifecycle transition, so a posted event finds the
 *   points it may concern with one index lookup;
 * - segment_entries: one durable job per START_BY_SEGMENT point of a started
 *   journey, due at the start or at `start_at`, claimed under a lease;
 * - segment_entry_audience: a job's resolved audience until it has entered.
 */
export const up = runStatements(STATEMENTS);
