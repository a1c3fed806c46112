import { err, ok, type Result } from './result.js';
import { unstorableTextProblem } from './text.js';

/**
 * Tag types (docs/device-api.md) and how a value of each type is validated and
 * encoded into the `device_tags` value columns. Seglang compiles comparisons
 * against the same encoding, so both sides must use these functions.
 */
export enum TagType {
  Integer = 1,
  String = 2,
  List = 3,
  Date = 4,
  Boolean = 5,
  Decimal = 6,
  Version = 7,
}

export const TAG_TYPE_NAMES: Record<TagType, string> = {
  [TagType.Integer]: 'Integer',
  [TagType.String]: 'String',
  [TagType.List]: 'List',
  [TagType.Date]: 'Date',
  [TagType.Boolean]: 'Boolean',
  [TagType.Decimal]: 'Decimal',
  [TagType.Version]: 'Version',
};

export function isTagType(value: unknown): value is TagType {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 7;
}

/** One stored row's worth of a tag value; exactly one field is set. */
export type EncodedTagValue =
  | { readonly column: 'int_value'; readonly value: number }
  | { readonly column: 'real_value'; readonly value: number }
  | { readonly column: 'text_value'; readonly value: string };

const VERSION_PART_DIGITS = 10;
const VERSION_PATTERN = /^\d{1,10}(\.\d{1,10}){0,3}$/;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?$/;

/**
 * Versions are stored as four zero-padded parts ("1.10" → "0000000001.0000000010.0000000000.0000000000")
 * so that text order in the "C" collation is version order and 1.10 > 1.9.
 */
export function encodeVersion(raw: string): string | undefined {
  if (!VERSION_PATTERN.test(raw)) return undefined;
  const parts = raw.split('.');
  while (parts.length < 4) parts.push('0');
  return parts.map((p) => p.padStart(VERSION_PART_DIGITS, '0')).join('.');
}

export function decodeVersion(stored: string): string {
  const parts = stored.split('.').map((p) => String(Number(p)));
  while (parts.length > 1 && parts[parts.length - 1] === '0') parts.pop();
  return parts.join('.');
}

/** Date tags are UTC: `YYYY-MM-DD HH:mm`, `YYYY-MM-DD`, or epoch seconds. Returns epoch seconds. */
export function parseDateValue(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  if (/^-?\d+$/.test(raw)) return parseDateValue(Number(raw));
  const m = DATE_PATTERN.exec(raw);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00'] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi));
  const check = new Date(ms);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59) {
    return undefined;
  }
  return ms / 1000;
}

export function formatDateValue(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 16).replace('T', ' ');
}

function parseBoolean(raw: unknown): boolean | undefined {
  if (typeof raw === 'boolean') return raw;
  if (raw === 1 || raw === '1' || raw === 'true') return true;
  if (raw === 0 || raw === '0' || raw === 'false') return false;
  return undefined;
}

function parseNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
  return undefined;
}

function describe(raw: unknown): string {
  return typeof raw === 'string' ? JSON.stringify(raw) : (JSON.stringify(raw) ?? String(raw));
}

/** Validates `raw` as a value of `type` and encodes it; the error names the tag and the problem. */
export function encodeTagValue(tagName: string, type: TagType, raw: unknown): Result<EncodedTagValue[]> {
  const fail = (what: string): Result<EncodedTagValue[]> => notA(tagName, type, raw, what);
  switch (type) {
    case TagType.Integer: {
      const n = parseNumber(raw);
      return n !== undefined && Number.isSafeInteger(n) ? ok([{ column: 'int_value', value: n }]) : fail('an integer');
    }
    case TagType.Decimal: {
      const n = parseNumber(raw);
      return n !== undefined ? ok([{ column: 'real_value', value: n }]) : fail('a number');
    }
    case TagType.Boolean: {
      const b = parseBoolean(raw);
      return b !== undefined ? ok([{ column: 'int_value', value: b ? 1 : 0 }]) : fail('a boolean');
    }
    case TagType.Date: {
      const s = parseDateValue(raw);
      return s !== undefined ? ok([{ column: 'int_value', value: s }]) : fail('a date (YYYY-MM-DD HH:mm or epoch seconds)');
    }
    case TagType.Version: {
      const v = typeof raw === 'string' ? encodeVersion(raw) : undefined;
      return v !== undefined ? ok([{ column: 'text_value', value: v }]) : fail('a version (a.b.c.d)');
    }
    case TagType.String:
      if (typeof raw !== 'string') return fail('a string');
      return encodeTextValues(tagName, [raw]);
    case TagType.List: {
      if (!Array.isArray(raw) || !raw.every((e): e is string => typeof e === 'string')) return fail('a list of strings');
      return encodeTextValues(tagName, [...new Set(raw)]);
    }
  }
}

/**
 * Text values are keys of the `device_tags_by_text` index; Postgres refuses a
 * B-tree entry over ~2.7 kB, so values are capped well below it, in bytes.
 */
export const MAX_TEXT_TAG_BYTES = 1024;

/** String and List values are stored as sent, each one a `text_value` row. */
function encodeTextValues(tagName: string, values: readonly string[]): Result<EncodedTagValue[]> {
  for (const value of values) {
    if (isTooLongForIndex(value)) return tooLong(tagName);
    const unstorable = unstorableTextProblem(value);
    if (unstorable) return err(`tag "${tagName}" value ${unstorable}`);
  }
  return ok(values.map((value) => ({ column: 'text_value' as const, value })));
}

function isTooLongForIndex(value: string): boolean {
  return value.length > MAX_TEXT_TAG_BYTES / 4 && Buffer.byteLength(value) > MAX_TEXT_TAG_BYTES;
}

function notA(tagName: string, type: TagType, raw: unknown, what: string): Result<EncodedTagValue[]> {
  return err(`tag "${tagName}" is ${TAG_TYPE_NAMES[type]}; ${describe(raw)} is not ${what}`);
}

function tooLong(tagName: string): Result<EncodedTagValue[]> {
  return err(`tag "${tagName}" value is longer than ${MAX_TEXT_TAG_BYTES} bytes`);
}

/** Turns stored rows of one tag back into the value a client sees. */
export function decodeTagValue(type: TagType, rows: readonly EncodedTagValue[]): unknown {
  if (type === TagType.List) return rows.map((r) => r.value);
  const row = rows[0];
  if (!row) return null;
  switch (type) {
    case TagType.Boolean:
      return row.value === 1;
    case TagType.Date:
      return formatDateValue(row.value as number);
    case TagType.Version:
      return decodeVersion(row.value as string);
    default:
      return row.value;
  }
}

/** Thrown by the store when a request's tag name or value is invalid; the message names the tag. */
export class InvalidTagError extends Error {
  constructor(
    readonly tagName: string,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidTagError';
  }
}

export const MAX_TAG_NAME_LENGTH = 128;

/** A tag name is 1–128 storable characters without control characters; returns the problem, if any. */
export function tagNameProblem(name: string): string | undefined {
  if (name.trim() === '') return 'tag names must not be empty';
  if (name.length > MAX_TAG_NAME_LENGTH) return `tag name "${name.slice(0, 32)}…" is longer than ${MAX_TAG_NAME_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for.
  if (/[\u0000-\u001f\u007f]/.test(name)) return `tag name ${JSON.stringify(name)} contains control characters`;
  const unstorable = unstorableTextProblem(name);
  return unstorable === undefined ? undefined : `tag name ${JSON.stringify(name)} ${unstorable}`;
}

/**
 * Pushwoosh's in-place edit of a List tag: `{"operation": "append" | "remove", "value": [...]}`
 * adds or removes elements without rewriting the others.
 */
export interface ListOperation {
  readonly operation: unknown;
  readonly value?: unknown;
}

export function isListOperation(raw: unknown): raw is ListOperation {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'operation' in raw;
}

/**
 * What one entry of a request's `tags` object does to a device's rows for that tag.
 * `replace` deletes every row of the tag and inserts `values` (none: the tag is removed);
 * `append` and `remove` touch only the List elements named.
 */
export type TagChange =
  | { readonly kind: 'replace'; readonly values: readonly EncodedTagValue[] }
  | { readonly kind: 'append'; readonly values: readonly EncodedTagValue[] }
  | { readonly kind: 'remove'; readonly values: readonly EncodedTagValue[] };

/** Validates one `tags` entry against the tag's declared type: null removes the tag, a ListOperation edits a List. */
export function planTagChange(tagName: string, type: TagType, raw: unknown): Result<TagChange> {
  if (raw === null) return ok({ kind: 'replace', values: [] });
  if (!isListOperation(raw)) {
    const encoded = encodeTagValue(tagName, type, raw);
    return encoded.ok ? ok({ kind: 'replace', values: encoded.value }) : encoded;
  }
  if (type !== TagType.List) {
    return err(`tag "${tagName}" is ${TAG_TYPE_NAMES[type]}; list operations apply only to List tags`);
  }
  const { operation, value } = raw;
  if (operation !== 'append' && operation !== 'remove') {
    return err(`tag "${tagName}": operation must be "append" or "remove", got ${describe(operation)}`);
  }
  const encoded = encodeTagValue(tagName, TagType.List, value);
  return encoded.ok ? ok({ kind: operation, values: encoded.value }) : encoded;
}

/**
 * The type a first value declares for an undeclared tag: booleans → Boolean,
 * integers → Integer, other numbers → Decimal, arrays and list operations → List, everything else
 * String. Dates and versions are never inferred from a string: "1.2" stays a String
 * unless the tag is declared a Version with addTag.
 */
export function inferTagType(raw: unknown): TagType {
  if (isListOperation(raw)) return TagType.List;
  if (typeof raw === 'boolean') return TagType.Boolean;
  if (typeof raw === 'number') return Number.isInteger(raw) ? TagType.Integer : TagType.Decimal;
  if (Array.isArray(raw)) return TagType.List;
  return TagType.String;
}
