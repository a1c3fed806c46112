import { runStatements } from '../../sql/migration-statements.js';

const STATEMENTS = [
  `CREATE TABLE outbox (
     id INTEGER PRIMARY KEY,
     idempotency_key TEXT NOT NULL UNIQUE,
     application_id INTEGER NOT NULL,
     journey_id INTEGER NOT NULL,
     run_id INTEGER NOT NULL,
     point_uuid TEXT NOT NULL,
     user_id TEXT NOT NULL,
     channel TEXT NOT NULL CHECK (channel IN ('push', 'email', 'sms', 'webhook')),
     hwid TEXT,
     recipient TEXT NOT NULL,
     payload TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'held', 'sent', 'failed', 'cancelled')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL,
     lease_owner TEXT,
     last_error TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL)`,
  // Only deliverable rows are in the claim index, so finished messages cost the claim nothing.
  `CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending'`,
  `CREATE INDEX outbox_live_by_journey_user ON outbox (journey_id, user_id) WHERE status IN ('pending', 'held')`,
  `CREATE TABLE message_deliveries (
     id INTEGER PRIMARY KEY,
     outbox_id INTEGER NOT NULL REFERENCES outbox(id),
     journey_id INTEGER NOT NULL,
     user_id TEXT NOT NULL,
     outcome TEXT NOT NULL CHECK (outcome IN ('sent', 'failed')),
     provider TEXT NOT NULL,
     reason TEXT,
     response_code INTEGER,
     attempts INTEGER NOT NULL,
     delivered_at INTEGER NOT NULL)`,
  `CREATE INDEX message_deliveries_by_user ON message_deliveries (journey_id, user_id, id)`,
  `CREATE TABLE channel_settings (
     application_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
     channel TEXT NOT NULL CHECK (channel IN ('push', 'email', 'sms', 'webhook')),
     provider TEXT NOT NULL,
     config TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (application_id, channel))`,
];

/**
 * Messages: the outbox the engine enqueues rendered messages into (in the
 * transaction that moves their runs), the delivery log of final outcomes, and
 * each application's channel provider settings. See docs/messages.md.
 */
export const up = runStatements(STATEMENTS);
