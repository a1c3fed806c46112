import type BetterSqlite3 from 'better-sqlite3';
import type { DeviceBatch } from './batch.js';
import type { BatchOutcome, DeviceBatchWriter, RowRange } from './types.js';

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
  private readonly writeInTransaction: (applicationId: number, batch: DeviceBatch, rows: RowRange) => BatchOutcome;

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
    this.writeInTransaction = raw.transaction((applicationId: number, batch: DeviceBatch, rows: RowRange) =>
      this.writeRows(applicationId, batch, rows),
    );
  }

  async write(applicationId: number, batch: DeviceBatch, rows: RowRange): Promise<BatchOutcome> {
    return this.writeInTransaction(applicationId, batch, rows);
  }

  private writeRows(applicationId: number, batch: DeviceBatch, { start, end }: RowRange): BatchOutcome {
    const now = Date.now();
    const { hwids, userIds, deviceTypes, pushTokens, languages, timezones } = batch;
    const { namedTagIds, valueTagIds, intValues, realValues, textValues } = batch;
    let inserted = 0;
    let updated = 0;
    for (let row = start; row < end; row++) {
      const hwid = hwids[row];
      const userId = userIds[row];
      const pushToken = pushTokens[row];
      const insert = this.insertDevice.run(
        applicationId,
        hwid,
        userId,
        hwid,
        deviceTypes[row],
        pushToken,
        languages[row],
        timezones[row],
        now,
        now,
      );
      let deviceId: number;
      if (insert.changes === 1) {
        deviceId = Number(insert.lastInsertRowid);
        inserted++;
      } else {
        deviceId = this.updateDevice.get(
          userId,
          deviceTypes[row],
          pushToken,
          pushToken,
          languages[row],
          timezones[row],
          now,
          applicationId,
          hwid,
        ) as number;
        updated++;
        for (let t = batch.tagsStart(row); t < batch.tagsEnd(row); t++) this.deleteTagValues.run(deviceId, namedTagIds[t]);
      }
      for (let v = batch.valuesStart(row); v < batch.valuesEnd(row); v++) {
        this.insertTagValue.run(deviceId, valueTagIds[v], intValues[v], realValues[v], textValues[v]);
      }
    }
    return { inserted, updated, rejected: [] };
  }
}
