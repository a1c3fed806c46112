import type { DeviceFields } from '../../domain/device.js';
import type { EncodedTagValue } from '../../domain/tags.js';

/** One tag of a row: its stored rows are replaced by `values`; no values removes the tag from the device. */
export interface ImportTagValues {
  readonly tagId: number;
  readonly values: readonly EncodedTagValue[];
}

/** A validated row of an import file. */
export interface ImportDeviceRow {
  /** Where the row starts in the file, for the summary. */
  readonly line: number;
  readonly device: DeviceFields;
  readonly tags: readonly ImportTagValues[];
}

export interface RejectedRow {
  readonly line: number;
  readonly reason: string;
}

export interface BatchOutcome {
  /** Devices that did not exist before. */
  readonly inserted: number;
  /** Devices that existed and were updated. */
  readonly updated: number;
  /** Rows the database could not take (only races with concurrent writers end up here). */
  readonly rejected: readonly RejectedRow[];
}

/** Writes one batch in one transaction; `rows` never holds the same hwid twice. */
export interface DeviceBatchWriter {
  write(applicationId: number, rows: readonly ImportDeviceRow[]): Promise<BatchOutcome>;
}
