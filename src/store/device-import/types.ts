import type { DeviceBatch } from './batch.js';

export interface RejectedRow {
  readonly line: number;
  readonly reason: string;
}

export interface BatchOutcome {
  /** Devices that did not exist before. */
  readonly inserted: number;
  /** Devices that existed and were updated. */
  readonly updated: number;
  /** Rows the database could not take. */
  readonly rejected: readonly RejectedRow[];
}

/** Rows `start` (inclusive) to `end` (exclusive) of a batch. */
export interface RowRange {
  readonly start: number;
  readonly end: number;
}

/** Writes a range of a batch in one transaction; a batch never holds the same hwid twice. */
export interface DeviceBatchWriter {
  write(applicationId: number, batch: DeviceBatch, rows: RowRange): Promise<BatchOutcome>;
}
