import type { ApiAttribute } from './journey.js';

/**
 * A run's attribute values: the Start-by-API request's `attribute_values`
 * over the defaults configured on the START_BY_API point. Every declared
 * attribute is always present in the result ("" when it has neither a value
 * nor a default), so a template naming a declared attribute never meets an
 * undefined variable. The values depend only on the request, not the user, so
 * the engine merges once per request and shares the result across its runs;
 * `templateScope` (templates.ts) then adds each recipient's `tags` and `user_id`.
 */

export type AttributeValues = Readonly<Record<string, string>>;

/** Names the template scope reserves (templates.ts); an attribute may not take them. */
export const RESERVED_TEMPLATE_NAMES = ['tags', 'user_id'] as const;

/** A START_BY_API point's attributes, compiled once per point. */
export interface EntryAttributes {
  /** Every declared attribute with its default, "" for one without, in declared order. */
  readonly defaults: readonly (readonly [name: string, fallback: string])[];
}

export type EntryAttributesCompile = { ok: true; entry: EntryAttributes } | { ok: false; error: string };

/** Validates `start_by_api.attributes`; errors name the field, e.g. `start_by_api.attributes[1].name: …`. */
export function compileEntryAttributes(attributes: readonly ApiAttribute[] | null | undefined): EntryAttributesCompile {
  const fail = (error: string): EntryAttributesCompile => ({ ok: false, error: `start_by_api.attributes${error}` });
  if (attributes === undefined || attributes === null) return { ok: true, entry: { defaults: [] } };
  if (!Array.isArray(attributes)) return fail(' must be a list of {name, default?}');
  const defaults: [string, string][] = [];
  // A draft's JSON may hold anything in the list: each element is checked, null and missing ones too.
  for (const [index, attribute] of (attributes as readonly (ApiAttribute | null | undefined)[]).entries()) {
    const name: unknown = attribute?.name;
    const fallback: unknown = attribute?.default;
    if (typeof name !== 'string' || name === '') return fail(`[${index}].name must be a non-empty string`);
    if ((RESERVED_TEMPLATE_NAMES as readonly string[]).includes(name)) {
      return fail(`[${index}].name "${name}" is reserved for templates (${RESERVED_TEMPLATE_NAMES.join(', ')})`);
    }
    if (defaults.some(([declared]) => declared === name)) {
      return fail(`[${index}].name "${name}" is declared more than once`);
    }
    if (fallback !== undefined && fallback !== null && typeof fallback !== 'string') {
      return fail(`[${index}].default must be a string`);
    }
    defaults.push([name, fallback ?? '']);
  }
  return { ok: true, entry: { defaults } };
}

/**
 * The attribute values of the runs one request enters: each declared
 * attribute takes the request's value when given (an empty string counts as
 * given), else its default, else "". Keys the point does not declare are
 * dropped; Start by API has already refused a request carrying one.
 */
export function mergeAttributeValues(entry: EntryAttributes, values: AttributeValues | null | undefined): AttributeValues {
  // fromEntries defines own properties, so even a name like "__proto__" stays an ordinary key.
  return Object.fromEntries(
    entry.defaults.map(([name, fallback]) => {
      const value = values && Object.hasOwn(values, name) ? values[name] : undefined;
      return [name, typeof value === 'string' ? value : fallback];
    }),
  );
}
