import type pg from 'pg';
import type { DeviceBatch } from './batch.js';
import type { BatchOutcome, DeviceBatchWriter, RejectedRow, RowRange } from './types.js';

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

  async write(applicationId: number, batch: DeviceBatch, rows: RowRange): Promise<BatchOutcome> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const outcome = await writeRows(client, applicationId, batch, rows);
      await client.query('COMMIT');
      return outcome;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
}

async function writeRows(
  client: pg.PoolClient,
  applicationId: number,
  batch: DeviceBatch,
  { start, end }: RowRange,
): Promise<BatchOutcome> {
  const now = Date.now();
  const all = Array.from({ length: end - start }, (_, i) => start + i);
  // ON CONFLICT and UPDATE … FROM would silently keep one of two rows for the same device.
  if (new Set(all.map((row) => batch.hwids[row])).size !== all.length) throw new Error('a batch holds a hwid twice');

  const inserted = await client.query<{ id: number; hwid: string }>(INSERT_NEW_DEVICES, [applicationId, now, ...deviceColumns(batch, all)]);
  const deviceIds = new Map<string, number>();
  for (const { id, hwid } of inserted.rows) deviceIds.set(hwid, id);

  const existing = all.filter((row) => !deviceIds.has(batch.hwids[row] ?? ''));
  let updatedCount = 0;
  if (existing.length > 0) {
    const updated = await client.query<{ id: number; hwid: string }>(UPDATE_EXISTING_DEVICES, [
      applicationId,
      now,
      ...deviceColumns(batch, existing),
    ]);
    for (const { id, hwid } of updated.rows) deviceIds.set(hwid, id);
    updatedCount = updated.rows.length;
    await deleteReplacedTagValues(client, batch, existing, deviceIds);
  }

  const rejected: RejectedRow[] = [];
  const valueDeviceIds: number[] = [];
  const valueTagIds: number[] = [];
  const intValues: (number | null | undefined)[] = [];
  const realValues: (number | null | undefined)[] = [];
  const textValues: (string | null | undefined)[] = [];
  for (const row of all) {
    const deviceId = deviceIds.get(batch.hwids[row] ?? '');
    if (deviceId === undefined) {
      rejected.push({ line: batch.lines[row] ?? 0, reason: 'the device was deleted by another writer during the import' });
      continue;
    }
    for (let v = batch.valuesStart(row); v < batch.valuesEnd(row); v++) {
      valueDeviceIds.push(deviceId);
      valueTagIds.push(batch.valueTagIds[v] ?? 0);
      intValues.push(batch.intValues[v]);
      realValues.push(batch.realValues[v]);
      textValues.push(batch.textValues[v]);
    }
  }
  if (valueDeviceIds.length > 0) {
    await client.query(INSERT_TAG_VALUES, [valueDeviceIds, valueTagIds, intValues, realValues, textValues]);
  }
  return { inserted: inserted.rows.length, updated: updatedCount, rejected };
}

/** An updated device's stored values of every tag its row names are replaced, so they go first. */
async function deleteReplacedTagValues(
  client: pg.PoolClient,
  batch: DeviceBatch,
  existing: readonly number[],
  deviceIds: ReadonlyMap<string, number>,
): Promise<void> {
  const deviceColumn: number[] = [];
  const tagColumn: number[] = [];
  for (const row of existing) {
    const deviceId = deviceIds.get(batch.hwids[row] ?? '');
    if (deviceId === undefined) continue;
    for (let t = batch.tagsStart(row); t < batch.tagsEnd(row); t++) {
      deviceColumn.push(deviceId);
      tagColumn.push(batch.namedTagIds[t] ?? 0);
    }
  }
  if (deviceColumn.length > 0) await client.query(DELETE_REPLACED_TAG_VALUES, [deviceColumn, tagColumn]);
}

/** The six device columns DEVICE_COLUMNS unnests, for the given rows. */
function deviceColumns(batch: DeviceBatch, rows: readonly number[]): unknown[] {
  const pick = <T>(column: readonly T[]) => rows.map((row) => column[row]);
  return [
    pick(batch.hwids),
    pick(batch.userIds),
    pick(batch.deviceTypes),
    pick(batch.pushTokens),
    pick(batch.languages),
    pick(batch.timezones),
  ];
}
