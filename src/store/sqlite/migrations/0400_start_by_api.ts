import { runStatements } from '../../sql/migration-statements.js';

const STATEMENTS = [
  `CREATE TABLE entry_rate_limits (
     journey_id INTEGER NOT NULL,
     point_uuid TEXT NOT NULL,
     last_accepted_at INTEGER NOT NULL,
     PRIMARY KEY (journey_id, point_uuid)) WITHOUT ROWID`,
  `CREATE TABLE entry_requests (
     id INTEGER PRIMARY KEY,
     uuid TEXT NOT NULL UNIQUE,
     journey_id INTEGER NOT NULL REFERENCES journeys(id),
     application_id INTEGER NOT NULL,
     point_uuid TEXT NOT NULL,
     selector_kind TEXT NOT NULL CHECK (selector_kind IN ('users', 'hwids', 'filter')),
     selector TEXT NOT NULL,
     attributes TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'done', 'failed')),
     audience_resolved INTEGER NOT NULL DEFAULT 0,
     selected INTEGER NOT NULL DEFAULT 0,
     entered INTEGER NOT NULL DEFAULT 0,
     skipped_unknown INTEGER NOT NULL DEFAULT 0,
     skipped_already INTEGER NOT NULL DEFAULT 0,
     attempts INTEGER NOT NULL DEFAULT 0,
     lease_owner TEXT,
     lease_expires_at INTEGER,
     error TEXT,
     created_at INTEGER NOT NULL,
     started_at INTEGER,
     finished_at INTEGER)`,
  `CREATE INDEX entry_requests_pending ON entry_requests (id) WHERE status IN ('queued', 'processing')`,
  `CREATE TABLE entry_audience (
     request_id INTEGER NOT NULL,
     user_id TEXT NOT NULL,
     PRIMARY KEY (request_id, user_id)) WITHOUT ROWID`,
  `CREATE TABLE runs (
     id INTEGER PRIMARY KEY,
     journey_id INTEGER NOT NULL,
     application_id INTEGER NOT NULL,
     user_id TEXT NOT NULL,
     point_uuid TEXT NOT NULL,
     state TEXT NOT NULL,
     due_at INTEGER NOT NULL,
     attributes TEXT NOT NULL,
     entry_request_id INTEGER,
     entered_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     lease_owner TEXT,
     lease_expires_at INTEGER)`,
  `CREATE INDEX runs_by_journey_state_point ON runs (journey_id, state, point_uuid, due_at)`,
  `CREATE INDEX runs_active_by_user ON runs (journey_id, user_id) WHERE state = 'active'`,
  `CREATE TABLE journey_point_counters (
     journey_id INTEGER NOT NULL,
     point_uuid TEXT NOT NULL,
     entered INTEGER NOT NULL DEFAULT 0,
     passed INTEGER NOT NULL DEFAULT 0,
     sent INTEGER NOT NULL DEFAULT 0,
     failed INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (journey_id, point_uuid)) WITHOUT ROWID`,
];

/**
 * Start by API: accepted entry requests, their rate-limit gate, the staging
 * table that holds a request's resolved audience until it has entered, the
 * runs every entry creates, and per-point counters. See docs/start-by-api.md.
 */
export const up = runStatements(STATEMENTS);
