import { validateDeviceFields, type DeviceFields, type DeviceFieldsInput } from '../domain/device.js';
import { encodeTagValue, inferTagType, tagNameProblem, TagType } from '../domain/tags.js';
import type { ImportTagValues } from '../store/device-import/index.js';
import type { TagDefinition } from '../store/tags/index.js';

/**
 * Turning one record of an import file into a validated row. A row is
 * checked in full before anything is written: device fields by the same
 * domain rule as the Device API, tag values against their declared type, and
 * undeclared tags against the type their value implies.
 */

/** The application's tag definitions by name, as known so far. */
export type TagCatalog = ReadonlyMap<string, TagDefinition>;

export type RowParse =
  | { readonly kind: 'accepted'; readonly device: DeviceFields; readonly tags: readonly ImportTagValues[] }
  | { readonly kind: 'rejected'; readonly reason: string }
  /** The row is valid once these tags are declared with the types their sample values imply; parse it again then. */
  | { readonly kind: 'undeclared'; readonly samples: ReadonlyMap<string, unknown> };

/** An input error about the whole file (its header, its format): nothing was imported. */
export class ImportFileError extends Error {}

const rejected = (reason: string): RowParse => ({ kind: 'rejected', reason });

/** Collects one row's tags, stopping at the first invalid one. */
class RowTags {
  readonly values: ImportTagValues[] = [];
  samples: Map<string, unknown> | undefined;
  error: string | undefined;

  /** `raw` null removes the tag from the device. Returns false when the row must be rejected. */
  add(name: string, definition: TagDefinition | undefined, raw: unknown): boolean {
    if (definition) {
      if (raw === null) {
        this.values.push({ tagId: definition.id, values: [] });
        return true;
      }
      const encoded = encodeTagValue(name, definition.type, raw);
      if (!encoded.ok) return this.fail(encoded.error);
      this.values.push({ tagId: definition.id, values: encoded.values });
      return true;
    }
    // An undeclared tag is on no device, so removing it is a no-op and declares nothing.
    if (raw === null) return true;
    const problem = tagNameProblem(name);
    if (problem) return this.fail(problem);
    const encoded = encodeTagValue(name, inferTagType(raw), raw);
    if (!encoded.ok) return this.fail(encoded.error);
    (this.samples ??= new Map()).set(name, raw);
    return true;
  }

  result(input: DeviceFieldsInput): RowParse {
    const device = validateDeviceFields(input);
    if (!device.ok) return rejected(device.error);
    if (this.error !== undefined) return rejected(this.error);
    if (this.samples) return { kind: 'undeclared', samples: this.samples };
    return { kind: 'accepted', device: device.device, tags: this.values };
  }

  private fail(error: string): false {
    this.error = error;
    return false;
  }
}

// ---------------------------------------------------------------- NDJSON

const NDJSON_DEVICE_FIELDS = new Set(['hwid', 'userId', 'device_type', 'push_token', 'language', 'timezone', 'tags']);

/**
 * One NDJSON line: `{"hwid": …, "device_type": …, "userId"?, "push_token"?,
 * "language"?, "timezone"?, "tags"?: {name: value}}`. Tag values are JSON
 * values typed as the Device API types them; null removes the tag.
 */
export function parseNdjsonRow(text: string, catalog: TagCatalog): RowParse {
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (error) {
    return rejected(`not valid JSON: ${(error as Error).message}`);
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return rejected('each line must be a JSON object');
  }
  for (const key in record) {
    if (!NDJSON_DEVICE_FIELDS.has(key)) return rejected(`unknown field "${key}"; tags go in the "tags" object`);
  }
  const fields = record as DeviceFieldsInput & { readonly tags?: unknown };
  const tags = new RowTags();
  const { tags: tagValues } = fields;
  if (tagValues !== undefined && tagValues !== null) {
    if (typeof tagValues !== 'object' || Array.isArray(tagValues)) return rejected('tags must be an object');
    const values = tagValues as Record<string, unknown>;
    for (const name in values) {
      if (!tags.add(name, catalog.get(name), values[name])) break;
    }
  }
  return tags.result(fields);
}

// ---------------------------------------------------------------- CSV

const CSV_DEVICE_COLUMNS = ['hwid', 'userId', 'device_type', 'push_token', 'language', 'timezone'] as const;
type CsvDeviceColumn = (typeof CSV_DEVICE_COLUMNS)[number];
const REQUIRED_CSV_COLUMNS: readonly CsvDeviceColumn[] = ['hwid', 'device_type'];

const INTEGER_TEXT = /^-?\d+$/;
/** Leading zeros keep a value text ("007", a postcode), so they never infer a number. */
const INFERRED_INTEGER_TEXT = /^-?(?:0|[1-9]\d*)$/;
const INFERRED_DECIMAL_TEXT = /^-?(?:0|[1-9]\d*)\.\d+$/;

/** A List cell is a JSON array of strings; anything else is handed on as text and fails List validation. */
function parseListCell(cell: string): unknown {
  if (!cell.startsWith('[')) return cell;
  try {
    return JSON.parse(cell) as unknown;
  } catch {
    return cell;
  }
}

/**
 * The value an undeclared tag's cell stands for: `true`/`false` → Boolean,
 * an integer → Integer, a decimal → Decimal, a JSON array of strings → List,
 * anything else → String (dates and versions are never inferred, as in the API).
 */
export function inferCsvValue(cell: string): unknown {
  if (cell === 'true') return true;
  if (cell === 'false') return false;
  if (INFERRED_INTEGER_TEXT.test(cell)) {
    const n = Number(cell);
    return Number.isSafeInteger(n) ? n : cell;
  }
  if (INFERRED_DECIMAL_TEXT.test(cell)) return Number(cell);
  if (cell.startsWith('[')) {
    const list = parseListCell(cell);
    if (Array.isArray(list) && list.every((e) => typeof e === 'string')) return list;
  }
  return cell;
}

/** A declared tag's cell: the text itself, which encodeTagValue parses per type; a List cell is JSON. */
function declaredCsvValue(type: TagType, cell: string): unknown {
  return type === TagType.List ? parseListCell(cell) : cell;
}

/** Integer device fields arrive as text; anything that is not an integer is passed on for the validator to name. */
function integerCell(cell: string): unknown {
  return INTEGER_TEXT.test(cell) ? Number(cell) : cell;
}

/**
 * Reads CSV records by the file's header: the device columns by name, every
 * other column a tag. An empty cell means "not given": the device keeps its
 * stored field, the tag is left as it is.
 */
export class CsvRowReader {
  private constructor(
    private readonly deviceColumns: ReadonlyMap<CsvDeviceColumn, number>,
    private readonly tagColumns: readonly { readonly name: string; readonly index: number }[],
  ) {}

  /** Throws ImportFileError naming the problem when the header cannot describe device rows. */
  static fromHeader(header: readonly string[]): CsvRowReader {
    const seen = new Set<string>();
    const deviceColumns = new Map<CsvDeviceColumn, number>();
    const tagColumns: { name: string; index: number }[] = [];
    header.forEach((name, index) => {
      if (seen.has(name)) throw new ImportFileError(`the header names column "${name}" twice`);
      seen.add(name);
      if ((CSV_DEVICE_COLUMNS as readonly string[]).includes(name)) {
        deviceColumns.set(name as CsvDeviceColumn, index);
        return;
      }
      const problem = tagNameProblem(name);
      if (problem) throw new ImportFileError(`header column ${index + 1}: ${problem}`);
      tagColumns.push({ name, index });
    });
    const missing = REQUIRED_CSV_COLUMNS.filter((column) => !deviceColumns.has(column));
    if (missing.length > 0) {
      throw new ImportFileError(`the header has no ${missing.map((c) => `"${c}"`).join(' or ')} column`);
    }
    return new CsvRowReader(deviceColumns, tagColumns);
  }

  parse(cells: readonly string[], catalog: TagCatalog): RowParse {
    const tags = new RowTags();
    for (const { name, index } of this.tagColumns) {
      const cell = cells[index] ?? '';
      if (cell === '') continue;
      const definition = catalog.get(name);
      const raw = definition ? declaredCsvValue(definition.type, cell) : inferCsvValue(cell);
      if (!tags.add(name, definition, raw)) break;
    }
    return tags.result({
      hwid: this.cell(cells, 'hwid'),
      userId: this.cell(cells, 'userId'),
      device_type: mapDefined(this.cell(cells, 'device_type'), integerCell),
      push_token: this.cell(cells, 'push_token'),
      language: this.cell(cells, 'language'),
      timezone: mapDefined(this.cell(cells, 'timezone'), integerCell),
    });
  }

  private cell(cells: readonly string[], column: CsvDeviceColumn): string | undefined {
    const index = this.deviceColumns.get(column);
    const cell = index === undefined ? undefined : cells[index];
    return cell === '' ? undefined : cell;
  }
}

function mapDefined<T>(value: string | undefined, map: (value: string) => T): T | undefined {
  return value === undefined ? undefined : map(value);
}
