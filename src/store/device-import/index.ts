import type { Backend } from '../backend.js';
import { PostgresDeviceBatchWriter } from './postgres.js';
import { SqliteDeviceBatchWriter } from './sqlite.js';
import type { DeviceBatch } from './batch.js';
import type { BatchOutcome, DeviceBatchWriter, RejectedRow, RowRange } from './types.js';

export { DeviceBatch, type ImportTagValues } from './batch.js';
export type { BatchOutcome, RejectedRow } from './types.js';

/**
 * The write side of `journeyd devices import`: batches of validated rows
 * (tags already resolved to definitions by the TagStore) upserted in one
 * transaction each. A row the database itself refuses (a constraint, a value
 * too large for an index) is isolated by retrying its batch in halves, so one
 * bad row costs its own rejection and never the rest of the batch. Any other
 * error (connection lost, deadlock) is thrown: the batches committed before it
 * stay, and importing the file again is safe since every row is an upsert.
 */
export class DeviceImportStore {
  private writer: DeviceBatchWriter | undefined;

  constructor(private readonly backend: Backend) {}

  /** Upserts a batch (distinct hwids) in one transaction. */
  async writeBatch(applicationId: number, batch: DeviceBatch, rows: RowRange = { start: 0, end: batch.size }): Promise<BatchOutcome> {
    const writer = (this.writer ??= this.createWriter());
    try {
      return await writer.write(applicationId, batch, rows);
    } catch (error) {
      if (!isRowDataError(error)) throw error;
      const { start, end } = rows;
      if (end - start === 1) {
        const reason = `the database refused the row: ${(error as Error).message}`;
        return { inserted: 0, updated: 0, rejected: [{ line: batch.lines[start] ?? 0, reason }] };
      }
      const middle = start + Math.ceil((end - start) / 2);
      return mergeOutcomes(
        await this.writeBatch(applicationId, batch, { start, end: middle }),
        await this.writeBatch(applicationId, batch, { start: middle, end }),
      );
    }
  }

  private createWriter(): DeviceBatchWriter {
    return this.backend.dialect === 'sqlite'
      ? new SqliteDeviceBatchWriter(this.backend.raw)
      : new PostgresDeviceBatchWriter(this.backend.pool);
  }
}

/**
 * Errors caused by the data of some row rather than by the database being
 * unavailable: Postgres classes 22 (data exception), 23 (integrity) and 54
 * (limits, e.g. a value too long for its index); SQLite constraint, size and
 * type errors.
 */
function isRowDataError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return /^(22|23|54)[0-9A-Z]{3}$/.test(code) || /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH)/.test(code);
}

function mergeOutcomes(a: BatchOutcome, b: BatchOutcome): BatchOutcome {
  const rejected: RejectedRow[] = [...a.rejected, ...b.rejected];
  return { inserted: a.inserted + b.inserted, updated: a.updated + b.updated, rejected };
}
