import { HWID_MAX_LENGTH, USER_ID_MAX_LENGTH } from './device.js';
import type { JourneyStatus, Point, PointOf } from './journey.js';
import { parseSeglang, SeglangError, type SegExpr } from './seglang/index.js';
import { err, ok, type Result } from './result.js';
import { unstorableTextProblem } from './text.js';

/**
 * The body of `POST /api/journey/{id}/start/external` (docs/start-by-api.md) and the
 * checks on it, in that page's order. Every failure is a message the
 * client sees verbatim with HTTP 400; nothing here touches storage.
 */

export const MAX_START_IDS = 100_000;

export const START_MESSAGES = {
  noSelector: 'one of users, hwids or filter must be provided',
  manySelectors: 'only one of users, hwids or filter must be provided',
  notRunning: 'Journey is not running',
  zeroApiPoints: 'zero api start points',
  manyApiPoints: 'there is more then one api start point',
  deactivated: 'point is deactivated',
  rateLimited: 'Enhance your calm! only one request per minute is allowed',
  unknownAttribute: (name: string) => `unknown attribute: ${name}`,
} as const;

export type IdSelectorKind = 'users' | 'hwids';

export type StartSelector =
  | { readonly kind: IdSelectorKind; /** De-duplicated, in first-seen order. */ readonly ids: readonly string[] }
  | { readonly kind: 'filter'; readonly filter: string; readonly expression: SegExpr };

/** What an accepted request's audience is chosen by; stored with the request. */
export type EntrySelectorKind = StartSelector['kind'];

/** An accepted request's progress: waiting, being entered, or finished one way or the other. */
export type EntryRequestStatus = 'queued' | 'processing' | 'done' | 'failed';

export interface StartRequest {
  readonly selector: StartSelector;
  /** `attribute_values` entries in request order. */
  readonly attributeValues: readonly (readonly [name: string, value: string])[];
}

const SELECTOR_KINDS = ['users', 'hwids', 'filter'] as const;

/** Where the selector was found, for messages: `payload.users` or, without a payload wrapper, `users`. */
interface Located {
  readonly source: Record<string, unknown>;
  readonly prefix: string;
  readonly attributeValues: { readonly value: unknown; readonly path: readonly string[] } | undefined;
}

/**
 * Reads the body's shape and runs checks 1–3: a selector must be set (an
 * empty list or string counts as unset), only one may be, ids and attribute
 * values must be strings and a filter must parse. `rawJson`, the body's
 * text, lets "first in request order" be exact for integer-like attribute
 * names, which a parsed object enumerates first whatever their position.
 */
export function readStartRequest(body: unknown, rawJson?: string): Result<StartRequest> {
  if (!isPlainObject(body)) return err('body must be a JSON object');
  const located = locate(body);
  if (!located.ok) return located;
  const { source, prefix, attributeValues } = located.value;

  const set = SELECTOR_KINDS.filter((kind) => isSet(source[kind]));
  if (set.length === 0) return err(START_MESSAGES.noSelector);
  if (set.length > 1) return err(START_MESSAGES.manySelectors);
  const kind = set[0] as (typeof SELECTOR_KINDS)[number];

  const selector = kind === 'filter' ? readFilter(source.filter, `${prefix}filter`) : readIds(kind, source[kind], prefix);
  if (!selector.ok) return selector;

  const values = attributeValues === undefined ? ok([]) : readAttributeValues(attributeValues, rawJson);
  if (!values.ok) return values;
  return ok({ selector: selector.value, attributeValues: values.value });
}

function locate(body: Record<string, unknown>): Result<Located> {
  const payload = body.payload;
  if (payload === undefined) {
    return ok({ source: body, prefix: '', attributeValues: present(body.attribute_values, ['attribute_values']) });
  }
  if (!isPlainObject(payload)) return err('payload must be an object');
  const inner = present(payload.attribute_values, ['payload', 'attribute_values']);
  const outer = present(body.attribute_values, ['attribute_values']);
  if (inner && outer) return err('attribute_values must be given once: inside payload or at the top level');
  return ok({ source: payload, prefix: 'payload.', attributeValues: inner ?? outer });
}

function present(value: unknown, path: readonly string[]): Located['attributeValues'] {
  return value === undefined || value === null ? undefined : { value, path };
}

function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  return !(Array.isArray(value) && value.length === 0);
}

const ID_MAX_LENGTH: Readonly<Record<IdSelectorKind, number>> = { users: USER_ID_MAX_LENGTH, hwids: HWID_MAX_LENGTH };

/**
 * What is wrong with one user id or hwid of a request, if anything: the
 * Device API's bounds, and text every store keeps as sent. Checked at
 * acceptance, so that the entry worker never meets an id it cannot look up.
 */
function startIdProblem(kind: IdSelectorKind, id: string): string | undefined {
  if (id === '') return 'must not be empty';
  if (id.length > ID_MAX_LENGTH[kind]) return `must be at most ${ID_MAX_LENGTH[kind]} characters`;
  return unstorableTextProblem(id);
}

function readIds(kind: IdSelectorKind, raw: unknown, prefix: string): Result<StartSelector> {
  const field = `${prefix}${kind}`;
  if (!Array.isArray(raw)) return err(`${field} must be a list of strings`);
  if (raw.length > MAX_START_IDS) return err(`${field} must contain at most ${MAX_START_IDS} ids, got ${raw.length}`);
  for (const [index, id] of raw.entries()) {
    if (typeof id !== 'string') return err(`${field}[${index}] must be a string, got ${describe(id)}`);
    const problem = startIdProblem(kind, id);
    if (problem) return err(`${field}[${index}] ${problem}`);
  }
  return ok({ kind, ids: [...new Set(raw as string[])] });
}

function readFilter(raw: unknown, field: string): Result<StartSelector> {
  if (typeof raw !== 'string') return err(`${field} must be a string, got ${describe(raw)}`);
  try {
    return ok({ kind: 'filter', filter: raw, expression: parseSeglang(raw) });
  } catch (error) {
    if (error instanceof SeglangError) return err(filterMessage(error));
    throw error;
  }
}

/** Seglang's syntax errors already read `invalid filter: … at position N`; its other errors get the same prefix. */
export function filterMessage(error: SeglangError): string {
  return error.message.startsWith('invalid filter') ? error.message : `invalid filter: ${error.message}`;
}

function readAttributeValues(
  { value, path }: NonNullable<Located['attributeValues']>,
  rawJson: string | undefined,
): Result<StartRequest['attributeValues']> {
  const field = path.join('.');
  if (!isPlainObject(value)) return err(`${field} must be an object of strings`);
  const keys = keysInRequestOrder(value, path, rawJson);
  const entries: (readonly [string, string])[] = [];
  for (const key of keys) {
    const v = value[key];
    if (typeof v !== 'string') return err(`${field}.${key} must be a string, got ${describe(v)}`);
    entries.push([key, v]);
  }
  return ok(entries);
}

export type ApiEntryPoint = PointOf<'POINT_TYPE_START_BY_API'>;

/** Checks 5–8: the journey runs and has exactly one API entry point, which is active. */
export function apiEntryPointOf(status: JourneyStatus, points: readonly Point[]): Result<ApiEntryPoint> {
  if (status !== 'STATUS_RUNNING') return err(START_MESSAGES.notRunning);
  const apiPoints = points.filter((p): p is ApiEntryPoint => p.point_type === 'POINT_TYPE_START_BY_API');
  const [point] = apiPoints;
  if (!point) return err(START_MESSAGES.zeroApiPoints);
  if (apiPoints.length > 1) return err(START_MESSAGES.manyApiPoints);
  if (point.point_data.start_by_api.is_deactivated === true) return err(START_MESSAGES.deactivated);
  return ok(point);
}

/** Check 9: the first attribute name, in request order, that the point does not configure. */
export function firstUnknownAttribute(point: ApiEntryPoint, attributeValues: StartRequest['attributeValues']): string | undefined {
  const configured = new Set((point.point_data.start_by_api.attributes ?? []).map((a) => a.name));
  return attributeValues.find(([name]) => !configured.has(name))?.[0];
}

const ARRAY_INDEX_KEY = /^(0|[1-9]\d*)$/;

function keysInRequestOrder(value: Record<string, unknown>, path: readonly string[], rawJson: string | undefined): string[] {
  const keys = Object.keys(value);
  if (rawJson === undefined || !keys.some((key) => ARRAY_INDEX_KEY.test(key))) return keys;
  const order = objectKeysInText(rawJson, path);
  const sameKeys = order?.length === keys.length && order.every((key) => Object.hasOwn(value, key));
  return sameKeys && order ? order : keys;
}

/**
 * The keys of the object at `path` in a JSON text, in the order they are
 * written (a repeated key at its first place, as JSON.parse keeps it). Values
 * off the path are skipped without recursion, so any nesting depth is safe.
 * The text is known to be valid JSON: the body parser accepted it.
 */
export function objectKeysInText(json: string, path: readonly string[]): string[] | undefined {
  let at = 0;
  const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  const skipSpace = () => {
    while (isSpace(json[at])) at++;
  };
  const readString = (): string => {
    const start = at++;
    while (at < json.length && json[at] !== '"') at += json[at] === '\\' ? 2 : 1;
    at++;
    return JSON.parse(json.slice(start, at)) as string;
  };
  const skipValue = () => {
    skipSpace();
    let depth = 0;
    while (at < json.length) {
      const c = json[at];
      if (c === '"') {
        readString();
        if (depth === 0) return;
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        if (depth === 0) return;
        if (--depth === 0) {
          at++;
          return;
        }
      } else if (depth === 0 && (c === ',' || isSpace(c))) return;
      at++;
    }
  };
  /** Calls `onMember` for each key of the object starting at `at`; it must consume the value. */
  const members = (onMember: (key: string) => void): boolean => {
    skipSpace();
    if (json[at] !== '{') return false;
    at++;
    skipSpace();
    if (json[at] === '}') {
      at++;
      return true;
    }
    while (at < json.length) {
      skipSpace();
      const key = readString();
      skipSpace();
      at++; // the ':'
      onMember(key);
      skipSpace();
      if (json[at++] === '}') return true;
    }
    return false;
  };
  let found: string[] | undefined;
  const walk = (depth: number): void => {
    if (depth === path.length) {
      const keys = new Set<string>();
      if (members((key) => (keys.add(key), skipValue()))) found = [...keys];
      else skipValue();
      return;
    }
    if (!members((key) => (key === path[depth] ? walk(depth + 1) : skipValue()))) skipValue();
  };
  try {
    walk(0);
  } catch {
    return undefined;
  }
  return found;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
