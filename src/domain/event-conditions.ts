import type { PointDataByType } from './journey.js';
import { MAX_DELAY_SECONDS, MS_PER_SECOND } from './schedule.js';
import { err, ok, type Result } from './result.js';

/**
 * Matching a posted event (name + attributes) against an event trigger: the
 * `message_bus` of an EVENT entry point or one branch of a WAIT_EVENT point.
 * The name must be equal (case-sensitive) and every condition must hold (AND).
 * Conditions are compiled once per point into small predicates and then tested
 * against each event. The operators and their typing are in docs/engine-rules.md.
 */

export const EVENT_CONDITION_OPERATORS = [
  'eq',
  'noteq',
  'gt',
  'gte',
  'lt',
  'lte',
  'between',
  'in',
  'notin',
  'contains',
  'any',
  'notset',
] as const;

/** Event names key index entries (posted events, journey event triggers), as user ids and hwids do. */
export const MAX_EVENT_NAME_LENGTH = 255;

export type EventConditionOperator = (typeof EVENT_CONDITION_OPERATORS)[number];

/** A posted event's attributes, as decoded from JSON. */
export type EventAttributes = Readonly<Record<string, unknown>>;

interface CompiledCondition {
  readonly attribute: string;
  /** Receives the attribute's value, undefined when the event does not carry it. */
  readonly holds: (value: unknown) => boolean;
}

export interface EventMatcher {
  readonly eventName: string;
  readonly conditions: readonly CompiledCondition[];
}

type Scalar = string | number | boolean;

/**
 * Validates and compiles an event name and its conditions. `conditions` is
 * taken as the client sent it (a list of `{attribute, operator, value}`) and
 * checked here, so this is the one place that decides what a condition may be.
 * Errors name the field relative to the trigger, e.g. `event_conditions[0].operator: …`.
 */
export function compileEventMatcher(eventName: string, conditions: unknown): Result<EventMatcher> {
  if (typeof eventName !== 'string' || eventName === '') {
    return err('event_name must be a non-empty string');
  }
  if (eventName.length > MAX_EVENT_NAME_LENGTH) return err(`event_name must be at most ${MAX_EVENT_NAME_LENGTH} characters`);
  if (conditions === undefined || conditions === null) return ok({ eventName, conditions: [] });
  if (!Array.isArray(conditions)) return err('event_conditions must be a list');
  const compiled: CompiledCondition[] = [];
  for (const [index, condition] of conditions.entries()) {
    const result = compileCondition(condition);
    if (typeof result === 'string') return err(`event_conditions[${index}]${result}`);
    compiled.push(result);
  }
  return ok({ eventName, conditions: compiled });
}

/** Whether an event named `eventName` with `attributes` satisfies `matcher`. */
export function eventMatches(matcher: EventMatcher, eventName: string, attributes: EventAttributes | null): boolean {
  if (eventName !== matcher.eventName) return false;
  for (const condition of matcher.conditions) {
    const value = attributes !== null && Object.hasOwn(attributes, condition.attribute) ? attributes[condition.attribute] : undefined;
    if (!condition.holds(value)) return false;
  }
  return true;
}

type WaitEventData = PointDataByType['POINT_TYPE_WAIT_EVENT']['wait_event'];

/** A compiled WAIT_EVENT point. */
export interface WaitEventRule {
  readonly branches: readonly { readonly key: string; readonly matcher: EventMatcher }[];
  readonly timeoutMs: number;
}

/** The output key a WAIT_EVENT run takes when no branch's event arrives in time. */
export const WAIT_EVENT_TIMEOUT_KEY = 'default';

/** Validates a WAIT_EVENT point's `wait_event` data; errors name the field, e.g. `wait_event.branches[1].event_name: …`. */
export function compileWaitEvent(waitEvent: WaitEventData): Result<WaitEventRule> {
  const fail = (error: string): Result<WaitEventRule> => err(`wait_event.${error}`);
  const { branches, timeout_seconds: timeoutSeconds } = waitEvent ?? {};
  if (!Array.isArray(branches) || branches.length === 0) {
    return fail('branches must be a non-empty list of {key, event_name, event_conditions?}');
  }
  const compiled: { key: string; matcher: EventMatcher }[] = [];
  for (const [index, branch] of branches.entries()) {
    const key: unknown = branch?.key;
    if (typeof key !== 'string' || key === '') return fail(`branches[${index}].key must be a non-empty string`);
    if (key === WAIT_EVENT_TIMEOUT_KEY) {
      return fail(`branches[${index}].key "${WAIT_EVENT_TIMEOUT_KEY}" is reserved for the timeout output`);
    }
    if (compiled.some((b) => b.key === key)) return fail(`branches[${index}].key "${key}" is used by more than one branch`);
    const matcher = compileEventMatcher(branch.event_name, branch.event_conditions);
    if (!matcher.ok) return fail(`branches[${index}].${matcher.error}`);
    compiled.push({ key, matcher: matcher.value });
  }
  if (
    typeof timeoutSeconds !== 'number' ||
    !Number.isSafeInteger(timeoutSeconds) ||
    timeoutSeconds < 1 ||
    timeoutSeconds > MAX_DELAY_SECONDS
  ) {
    return fail(`timeout_seconds must be a whole number of seconds from 1 to ${MAX_DELAY_SECONDS}`);
  }
  return ok({ branches: compiled, timeoutMs: timeoutSeconds * MS_PER_SECOND });
}

/** The key of the first branch, in declared order, that the event satisfies; undefined if none does. */
export function firstMatchingBranch(rule: WaitEventRule, eventName: string, attributes: EventAttributes | null): string | undefined {
  for (const branch of rule.branches) {
    if (eventMatches(branch.matcher, eventName, attributes)) return branch.key;
  }
  return undefined;
}

/** A compiled condition, or the problem (starting with the field path suffix) as a string. */
function compileCondition(condition: unknown): CompiledCondition | string {
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) {
    return ' must be an object {attribute, operator, value}';
  }
  const { attribute, operator: rawOperator, value } = condition as Record<string, unknown>;
  if (typeof attribute !== 'string' || attribute === '') return '.attribute must be a non-empty string';
  const operator = typeof rawOperator === 'string' ? rawOperator.toLowerCase() : rawOperator;
  if (!isOperator(operator)) {
    return `.operator: ${describe(rawOperator)} is not one of ${EVENT_CONDITION_OPERATORS.join(', ')}`;
  }
  const holds = compilePredicate(operator, value);
  return typeof holds === 'string' ? `.value: ${holds}` : { attribute, holds };
}

function isOperator(value: unknown): value is EventConditionOperator {
  return (EVENT_CONDITION_OPERATORS as readonly unknown[]).includes(value);
}

/** The predicate on an attribute value, or why `value` does not suit `operator`. */
function compilePredicate(operator: EventConditionOperator, value: unknown): ((attribute: unknown) => boolean) | string {
  switch (operator) {
    case 'any':
    case 'notset': {
      if (value !== undefined && value !== null) return `${operator} takes no value`;
      return operator === 'any' ? isSet : (attribute) => !isSet(attribute);
    }
    case 'eq':
    case 'noteq': {
      if (!isScalar(value)) return `${operator} needs a string, number or boolean`;
      const equals = equalityTest(value);
      return operator === 'eq' ? equals : (attribute) => isSet(attribute) && !equals(attribute);
    }
    case 'in':
    case 'notin': {
      if (!Array.isArray(value) || value.length === 0 || !value.every(isScalar)) {
        return `${operator} needs a non-empty list of strings, numbers or booleans`;
      }
      const tests = value.map(equalityTest);
      const inList = (attribute: unknown) => tests.some((test) => test(attribute));
      return operator === 'in' ? inList : (attribute) => isSet(attribute) && !inList(attribute);
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (!isOrderable(value)) return `${operator} needs a number or a string`;
      const compare = orderingComparison(value);
      return ORDER_TESTS[operator](compare);
    }
    case 'between': {
      const [min, max] = Array.isArray(value) && value.length === 2 ? (value as unknown[]) : [];
      if (!isOrderable(min) || !isOrderable(max) || typeof min !== typeof max || min > max) {
        return 'between needs [min, max]: two numbers or two strings with min <= max';
      }
      const fromMin = orderingComparison(min);
      const fromMax = orderingComparison(max);
      return (attribute) => {
        const low = fromMin(attribute);
        return low !== undefined && low >= 0 && fromMax(attribute)! <= 0;
      };
    }
    case 'contains': {
      if (!isScalar(value)) return 'contains needs a string, number or boolean';
      const equals = scalarEqualityTest(value);
      return (attribute) =>
        Array.isArray(attribute)
          ? attribute.some(equals)
          : typeof value === 'string' && typeof attribute === 'string' && attribute.includes(value);
    }
  }
}

/**
 * `(attribute) => attribute - value` in the value's type: negative, zero or
 * positive, or undefined when the attribute cannot be read as that type (so
 * no ordering operator holds).
 */
type OrderingComparison = (attribute: unknown) => number | undefined;

const ORDER_TESTS: Record<'gt' | 'gte' | 'lt' | 'lte', (compare: OrderingComparison) => (attribute: unknown) => boolean> = {
  gt: (compare) => (attribute) => (compare(attribute) ?? Number.NaN) > 0,
  gte: (compare) => (attribute) => (compare(attribute) ?? Number.NaN) >= 0,
  lt: (compare) => (attribute) => (compare(attribute) ?? Number.NaN) < 0,
  lte: (compare) => (attribute) => (compare(attribute) ?? Number.NaN) <= 0,
};

function orderingComparison(value: number | string): OrderingComparison {
  if (typeof value === 'number') {
    return (attribute) => {
      const n = asNumber(attribute);
      return n === undefined ? undefined : n - value;
    };
  }
  return (attribute) => {
    const s = asString(attribute);
    return s === undefined ? undefined : s < value ? -1 : s > value ? 1 : 0;
  };
}

/** Equality in the condition value's type; a list attribute equals a value when one of its elements does. */
function equalityTest(value: Scalar): (attribute: unknown) => boolean {
  const equals = scalarEqualityTest(value);
  return (attribute) => (Array.isArray(attribute) ? attribute.some(equals) : equals(attribute));
}

function scalarEqualityTest(value: Scalar): (attribute: unknown) => boolean {
  switch (typeof value) {
    case 'number':
      return (attribute) => asNumber(attribute) === value;
    case 'boolean':
      return (attribute) => asBoolean(attribute) === value;
    default:
      return (attribute) => asString(attribute) === value;
  }
}

/** A number, or a string holding a decimal number ("10", " 2.5 "); nothing else is numeric. */
function asNumber(attribute: unknown): number | undefined {
  if (typeof attribute === 'number') return Number.isFinite(attribute) ? attribute : undefined;
  if (typeof attribute !== 'string' || attribute.trim() === '') return undefined;
  const n = Number(attribute);
  return Number.isFinite(n) ? n : undefined;
}

/** A string as is; a number or boolean as its JSON text (10 → "10", true → "true"). */
function asString(attribute: unknown): string | undefined {
  if (typeof attribute === 'string') return attribute;
  if (typeof attribute === 'number' || typeof attribute === 'boolean') return String(attribute);
  return undefined;
}

function asBoolean(attribute: unknown): boolean | undefined {
  if (typeof attribute === 'boolean') return attribute;
  if (attribute === 'true' || attribute === 1 || attribute === '1') return true;
  if (attribute === 'false' || attribute === 0 || attribute === '0') return false;
  return undefined;
}

function isSet(attribute: unknown): boolean {
  return attribute !== undefined && attribute !== null;
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

function isOrderable(value: unknown): value is number | string {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

function describe(value: unknown): string {
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- JSON.stringify gives undefined only for a function or a symbol, which String names.
  return value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
}
