import type BetterSqlite3 from 'better-sqlite3';
import type { BatchOutcome, DeviceBatchWriter, ImportDeviceRow } from './types.js';

/**
 * The SQLite hot path: statements prepared once, reused for every row, and
 * one transaction per batch. A row costs one INSERT … DO NOTHING when the
 * device is new (the common case of a first import) and an UPDATE plus one
 * DELETE per tag only when it already existed.
 *
 * Field semantics (domain/device.ts): an absent field keeps the stored value,
 * an empty userId is no userId, an empty push_token clears the token.
 */
export class SqliteDeviceBatchWriter implements DeviceBatchWriter {
  private readonly insertDevice: BetterSqlite3.Statement;
  private readonly updateDevice: BetterSqlite3.Statement;
  private readonly deleteTagValues: BetterSqlite3.Statement;
  private readonly insertTagValue: BetterSqlite3.Statement;
  private readonly writeInTransaction: (applicationId: number, rows: readonly ImportDeviceRow[]) => BatchOutcome;

  constructor(raw: BetterSqlite3.Database) {
    this.insertDevice = raw.prepare(
      `INSERT INTO devices (application_id, hwid, user_id, device_type, push_token, language, timezone, created_at, updated_at)
       VALUES (?, ?, COALESCE(?, ?), ?, NULLIF(?, ''), ?, ?, ?, ?)
       ON CONFLICT (application_id, hwid) DO NOTHING`,
    );
    this.updateDevice = raw
      .prepare(
        `UPDATE devices SET
           user_id = COALESCE(?, user_id), device_type = ?,
           push_token = CASE WHEN ? IS NULL THEN push_token ELSE NULLIF(?, '') END,
           language = COALESCE(?, language), timezone = COALESCE(?, timezone), updated_at = ?
         WHERE application_id = ? AND hwid = ?
         RETURNING id`,
      )
      .pluck();
    this.deleteTagValues = raw.prepare(`DELETE FROM device_tags WHERE device_id = ? AND tag_id = ?`);
    this.insertTagValue = raw.prepare(
      `INSERT INTO device_tags (device_id, tag_id, int_value, real_value, text_value) VALUES (?, ?, ?, ?, ?)`,
    );
    this.writeInTransaction = raw.transaction((applicationId: number, rows: readonly ImportDeviceRow[]) =>
      this.writeRows(applicationId, rows),
    );
  }

  async write(applicationId: number, rows: readonly ImportDeviceRow[]): Promise<BatchOutcome> {
    return this.writeInTransaction(applicationId, rows);
  }

  private writeRows(applicationId: number, rows: readonly ImportDeviceRow[]): BatchOutcome {
    const now = Date.now();
    let inserted = 0;
    let updated = 0;
    for (const { device, tags } of rows) {
      const { hwid, userId, deviceType, pushToken, language, timezone } = device;
      const insert = this.insertDevice.run(
        applicationId,
        hwid,
        userId || null,
        hwid,
        deviceType,
        pushToken ?? null,
        language ?? null,
        timezone ?? null,
        now,
        now,
      );
      let deviceId: number;
      if (insert.changes === 1) {
        deviceId = Number(insert.lastInsertRowid);
        inserted++;
      } else {
        deviceId = this.updateDevice.get(
          userId || null,
          deviceType,
          pushToken ?? null,
          pushToken ?? null,
          language ?? null,
          timezone ?? null,
          now,
          applicationId,
          hwid,
        ) as number;
        updated++;
        for (const tag of tags) this.deleteTagValues.run(deviceId, tag.tagId);
      }
      for (const { tagId, values } of tags) {
        for (const encoded of values) {
          switch (encoded.column) {
            case 'int_value':
              this.insertTagValue.run(deviceId, tagId, encoded.value, null, null);
              break;
            case 'real_value':
              this.insertTagValue.run(deviceId, tagId, null, encoded.value, null);
              break;
            case 'text_value':
              this.insertTagValue.run(deviceId, tagId, null, null, encoded.value);
              break;
          }
        }
      }
    }
    return { inserted, updated, rejected: [] };
  }
}
