import { runStatements } from '../../sql/migration-statements.js';

const STATEMENTS = [
  `CREATE TABLE applications (
     id INTEGER PRIMARY KEY,
     code TEXT NOT NULL UNIQUE,
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL)`,
  `CREATE TABLE tokens (
     id INTEGER PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('api', 'device')),
     token_hash TEXT NOT NULL UNIQUE,
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL)`,
  `CREATE TABLE token_applications (
     token_id INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
     application_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
     PRIMARY KEY (token_id, application_id)) WITHOUT ROWID`,
  `CREATE TABLE devices (
     id INTEGER PRIMARY KEY,
     application_id INTEGER NOT NULL REFERENCES applications(id),
     hwid TEXT NOT NULL,
     user_id TEXT NOT NULL,
     device_type INTEGER NOT NULL,
     push_token TEXT,
     language TEXT,
     timezone INTEGER,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     UNIQUE (application_id, hwid))`,
  `CREATE INDEX devices_by_user ON devices (application_id, user_id)`,
  `CREATE TABLE tag_definitions (
     id INTEGER PRIMARY KEY,
     application_id INTEGER NOT NULL REFERENCES applications(id),
     name TEXT NOT NULL,
     type INTEGER NOT NULL CHECK (type BETWEEN 1 AND 7),
     created_at INTEGER NOT NULL,
     UNIQUE (application_id, name))`,
  `CREATE TABLE device_tags (
     device_id INTEGER NOT NULL,
     tag_id INTEGER NOT NULL,
     int_value INTEGER,
     real_value REAL,
     text_value TEXT)`,
  `CREATE INDEX device_tags_by_device ON device_tags (device_id, tag_id)`,
  `CREATE INDEX device_tags_by_int ON device_tags (tag_id, int_value, device_id) WHERE int_value IS NOT NULL`,
  `CREATE INDEX device_tags_by_real ON device_tags (tag_id, real_value, device_id) WHERE real_value IS NOT NULL`,
  `CREATE INDEX device_tags_by_text ON device_tags (tag_id, text_value, device_id) WHERE text_value IS NOT NULL`,
  `CREATE TABLE events (
     id INTEGER PRIMARY KEY,
     application_id INTEGER NOT NULL,
     device_id INTEGER,
     user_id TEXT NOT NULL,
     name TEXT NOT NULL,
     attributes TEXT NOT NULL,
     occurred_at INTEGER NOT NULL,
     received_at INTEGER NOT NULL)`,
  `CREATE INDEX events_by_user ON events (application_id, user_id, name, occurred_at)`,
  `CREATE TABLE filters (
     id INTEGER PRIMARY KEY,
     application_id INTEGER NOT NULL REFERENCES applications(id),
     name TEXT NOT NULL,
     expression TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     UNIQUE (application_id, name))`,
  `CREATE TABLE journeys (
     id INTEGER PRIMARY KEY,
     uuid TEXT NOT NULL UNIQUE,
     application_id INTEGER NOT NULL REFERENCES applications(id),
     title TEXT NOT NULL,
     status TEXT NOT NULL,
     params TEXT NOT NULL,
     points TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL)`,
  `CREATE INDEX journeys_by_application ON journeys (application_id, created_at)`,
];

export const up = runStatements(STATEMENTS);
