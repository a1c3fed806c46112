import type pg from 'pg';
import type { BatchOutcome, DeviceBatchWriter, ImportDeviceRow, RejectedRow } from './types.js';

/**
 * Postgres writes a batch with a fixed handful of statements whatever its
 * size: each takes whole columns as arrays and `unnest`s them, so a batch of
 * 5,000 rows is one round trip per statement, with no 65,535-parameter limit
 * and no per-batch SQL text to plan.
 *
 * New devices go in first with ON CONFLICT DO NOTHING; the rows that conflicted
 * already existed and are updated by a second statement, which (unlike
 * `ON CONFLICT DO UPDATE`, whose `excluded` row only has the inserted values)
 * can keep a stored userId / push_token / language / timezone the file leaves out.
 * As on SQLite, an empty userId is no userId and an empty push_token clears it.
 */
const DEVICE_COLUMNS = `unnest($3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::int[])
  AS t(hwid, user_id, device_type, push_token, language, timezone)`;

const INSERT_NEW_DEVICES = `
  INSERT INTO devices (application_id, hwid, user_id, device_type, push_token, language, timezone, created_at, updated_at)
  SELECT $1, t.hwid, COALESCE(t.user_id, t.hwid), t.device_type, NULLIF(t.push_token, ''), t.language, t.timezone, $2, $2
  FROM ${DEVICE_COLUMNS}
  ON CONFLICT (application_id, hwid) DO NOTHING
  RETURNING id, hwid`;

const UPDATE_EXISTING_DEVICES = `
  UPDATE devices AS d SET
    user_id = COALESCE(t.user_id, d.user_id), device_type = t.device_type,
    push_token = CASE WHEN t.push_token IS NULL THEN d.push_token ELSE NULLIF(t.push_token, '') END,
    language = COALESCE(t.language, d.language),
    timezone = COALESCE(t.timezone, d.timezone), updated_at = $2
  FROM ${DEVICE_COLUMNS}
  WHERE d.application_id = $1 AND d.hwid = t.hwid
  RETURNING d.id, d.hwid`;

const DELETE_REPLACED_TAG_VALUES = `
  DELETE FROM device_tags AS dt
  USING unnest($1::bigint[], $2::bigint[]) AS t(device_id, tag_id)
  WHERE dt.device_id = t.device_id AND dt.tag_id = t.tag_id`;

const INSERT_TAG_VALUES = `
  INSERT INTO device_tags (device_id, tag_id, int_value, real_value, text_value)
  SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::float8[], $5::text[])`;

export class PostgresDeviceBatchWriter implements DeviceBatchWriter {
  constructor(private readonly pool: pg.Pool) {}

  async write(applicationId: number, rows: readonly ImportDeviceRow[]): Promise<BatchOutcome> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const outcome = await this.writeRows(client, applicationId, rows);
      await client.query('COMMIT');
      return outcome;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  private async writeRows(
    client: pg.PoolClient,
    applicationId: number,
    rows: readonly ImportDeviceRow[],
  ): Promise<BatchOutcome> {
    const now = Date.now();
    const hwids = new Set<string>();
    for (const row of rows) {
      if (hwids.has(row.device.hwid)) throw new Error(`batch holds hwid "${row.device.hwid}" twice`);
      hwids.add(row.device.hwid);
    }

    const inserted = await client.query<{ id: number; hwid: string }>(INSERT_NEW_DEVICES, [
      applicationId,
      now,
      ...deviceColumns(rows),
    ]);
    const deviceIds = new Map<string, number>();
    for (const { id, hwid } of inserted.rows) deviceIds.set(hwid, id);

    const existing = rows.filter((row) => !deviceIds.has(row.device.hwid));
    let updatedCount = 0;
    if (existing.length > 0) {
      const updated = await client.query<{ id: number; hwid: string }>(UPDATE_EXISTING_DEVICES, [
        applicationId,
        now,
        ...deviceColumns(existing),
      ]);
      for (const { id, hwid } of updated.rows) deviceIds.set(hwid, id);
      updatedCount = updated.rows.length;
      await deleteReplacedTagValues(client, existing, deviceIds);
    }

    const rejected: RejectedRow[] = [];
    const tagValues = new TagValueColumns();
    for (const row of rows) {
      const deviceId = deviceIds.get(row.device.hwid);
      if (deviceId === undefined) {
        rejected.push({ line: row.line, reason: 'the device was deleted by another writer during the import' });
        continue;
      }
      for (const tag of row.tags) for (const value of tag.values) tagValues.add(deviceId, tag.tagId, value);
    }
    if (tagValues.length > 0) await client.query(INSERT_TAG_VALUES, tagValues.parameters());

    return { inserted: inserted.rows.length, updated: updatedCount, rejected };
  }
}

/** An updated device's stored values of every tag its row names are replaced, so they go first. */
async function deleteReplacedTagValues(
  client: pg.PoolClient,
  existing: readonly ImportDeviceRow[],
  deviceIds: ReadonlyMap<string, number>,
): Promise<void> {
  const deviceColumn: number[] = [];
  const tagColumn: number[] = [];
  for (const row of existing) {
    const deviceId = deviceIds.get(row.device.hwid);
    if (deviceId === undefined) continue;
    for (const tag of row.tags) {
      deviceColumn.push(deviceId);
      tagColumn.push(tag.tagId);
    }
  }
  if (deviceColumn.length > 0) await client.query(DELETE_REPLACED_TAG_VALUES, [deviceColumn, tagColumn]);
}

function deviceColumns(rows: readonly ImportDeviceRow[]): unknown[] {
  return [
    rows.map((r) => r.device.hwid),
    rows.map((r) => r.device.userId || null),
    rows.map((r) => r.device.deviceType),
    rows.map((r) => r.device.pushToken ?? null),
    rows.map((r) => r.device.language ?? null),
    rows.map((r) => r.device.timezone ?? null),
  ];
}

/** device_tags rows as the five column arrays INSERT_TAG_VALUES unnests. */
class TagValueColumns {
  private readonly deviceIds: number[] = [];
  private readonly tagIds: number[] = [];
  private readonly intValues: (number | null)[] = [];
  private readonly realValues: (number | null)[] = [];
  private readonly textValues: (string | null)[] = [];

  get length(): number {
    return this.deviceIds.length;
  }

  add(deviceId: number, tagId: number, value: ImportDeviceRow['tags'][number]['values'][number]): void {
    this.deviceIds.push(deviceId);
    this.tagIds.push(tagId);
    this.intValues.push(value.column === 'int_value' ? value.value : null);
    this.realValues.push(value.column === 'real_value' ? value.value : null);
    this.textValues.push(value.column === 'text_value' ? value.value : null);
  }

  parameters(): unknown[] {
    return [this.deviceIds, this.tagIds, this.intValues, this.realValues, this.textValues];
  }
}
