/**
 * Readers for the untyped `point_data` of a saved point. Each one either
 * returns the value with its type or throws a `FieldProblem` whose message
 * names the field by its path under `point_data` (e.g. `send_push.body`).
 */
export class FieldProblem extends Error {
  override readonly name = 'FieldProblem';
}

export type JsonObject = Record<string, unknown>;

export function fail(message: string): never {
  throw new FieldProblem(message);
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : JSON.stringify(value);
}

export function requireObject(value: unknown, path: string): JsonObject {
  if (!isObject(value)) fail(`${path} must be an object, got ${describeValue(value)}`);
  return value;
}

export function requireList(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(`${path} must be a list, got ${describeValue(value)}`);
  return value;
}

export function requireString(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(`${path} must be a string, got ${describeValue(value)}`);
  return value;
}

export function requireNonEmptyString(value: unknown, path: string): string {
  const text = requireString(value, path);
  if (text.trim() === '') fail(`${path} must not be empty`);
  return text;
}

export function optionalString(value: unknown, path: string): string | undefined {
  return value === undefined ? undefined : requireString(value, path);
}

export function optionalBoolean(value: unknown, path: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') fail(`${path} must be true or false, got ${describeValue(value)}`);
  return value;
}

/** A record whose every value is a string, e.g. webhook headers or set_tags tags. */
export function requireStringRecord(value: unknown, path: string): Record<string, string> {
  const record = requireObject(value, path);
  for (const [key, item] of Object.entries(record)) requireString(item, `${path}.${key}`);
  return record as Record<string, string>;
}
