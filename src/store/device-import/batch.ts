import type { DeviceFields } from '../../domain/device.js';
import type { EncodedTagValue } from '../../domain/tags.js';

/** One tag of a row: its stored values are replaced by `values`; no values removes the tag from the device. */
export interface ImportTagValues {
  readonly tagId: number;
  readonly values: readonly EncodedTagValue[];
}

/**
 * The rows of an import batch, stored column by column in arrays that the
 * next batch reuses after `clear()`. Thousands of rows held until their
 * transaction then cost the rows' strings only, rather than a dozen small
 * objects each plus growing arrays, which V8 would promote to the old
 * generation and collect late (the import's peak RSS). The columns are also
 * what the Postgres writer sends as arrays.
 *
 * Only indexes below `size` (rows) and `valueCount` (tag values) are the
 * batch's; the arrays may be longer. Field conventions follow
 * domain/device.ts: null is "not given" (the device keeps its stored value),
 * an empty push token clears it.
 */
export class DeviceBatch {
  readonly lines: number[] = [];
  readonly hwids: string[] = [];
  /** An empty userId is stored as null: not given. */
  readonly userIds: (string | null)[] = [];
  readonly deviceTypes: number[] = [];
  readonly pushTokens: (string | null)[] = [];
  readonly languages: (string | null)[] = [];
  readonly timezones: (number | null)[] = [];

  private readonly tagBounds: number[] = [0];
  /** Every tag a row names, including tags it removes, whose stored values an update replaces. */
  readonly namedTagIds: number[] = [];

  private readonly valueBounds: number[] = [0];
  readonly valueTagIds: number[] = [];
  readonly intValues: (number | null)[] = [];
  readonly realValues: (number | null)[] = [];
  readonly textValues: (string | null)[] = [];

  private rows = 0;
  private namedTags = 0;
  private values = 0;

  get size(): number {
    return this.rows;
  }

  get valueCount(): number {
    return this.values;
  }

  /** Empties the batch, keeping its arrays for the next one. */
  clear(): void {
    this.rows = 0;
    this.namedTags = 0;
    this.values = 0;
  }

  add(line: number, device: DeviceFields, tags: readonly ImportTagValues[]): void {
    const row = this.rows++;
    this.lines[row] = line;
    this.hwids[row] = device.hwid;
    this.userIds[row] = device.userId || null;
    this.deviceTypes[row] = device.deviceType;
    this.pushTokens[row] = device.pushToken ?? null;
    this.languages[row] = device.language ?? null;
    this.timezones[row] = device.timezone ?? null;
    for (const { tagId, values } of tags) {
      this.namedTagIds[this.namedTags++] = tagId;
      for (const encoded of values) this.addValue(tagId, encoded);
    }
    this.tagBounds[row + 1] = this.namedTags;
    this.valueBounds[row + 1] = this.values;
  }

  /** Row `row`'s named tags are `namedTagIds[tagsStart(row) .. tagsEnd(row))`. */
  tagsStart(row: number): number {
    return this.tagBounds[row] ?? 0;
  }

  tagsEnd(row: number): number {
    return this.tagBounds[row + 1] ?? 0;
  }

  /** Row `row`'s tag values are the value columns over `valuesStart(row) .. valuesEnd(row))`. */
  valuesStart(row: number): number {
    return this.valueBounds[row] ?? 0;
  }

  valuesEnd(row: number): number {
    return this.valueBounds[row + 1] ?? 0;
  }

  private addValue(tagId: number, encoded: EncodedTagValue): void {
    const value = this.values++;
    this.valueTagIds[value] = tagId;
    this.intValues[value] = encoded.column === 'int_value' ? encoded.value : null;
    this.realValues[value] = encoded.column === 'real_value' ? encoded.value : null;
    this.textValues[value] = encoded.column === 'text_value' ? encoded.value : null;
  }
}
