import {
  compileEventMatcher,
  compileWaitEvent,
  eventMatches,
  firstMatchingBranch,
  type EventAttributes,
  type EventMatcher,
  type WaitEventRule,
} from './event-conditions.js';
import type { Point } from './journey.js';
import { parseUntilDate } from './schedule.js';

/**
 * What a posted event does to journeys (docs/entry-and-events.md): it enters
 * its user at a matching EVENT entry point, and moves the user's runs waiting
 * at a WAIT_EVENT point to the first matching branch. This module decides
 * which points listen for which event names and what a given event does to
 * one of them; the store applies it inside the event's transaction.
 */

export type TriggerKind = 'entry' | 'wait';

/** A point of a running journey that reacts to events, under the names it listens for. */
export interface TriggerDeclaration {
  readonly kind: TriggerKind;
  readonly pointUuid: string;
  /** The point's index among the journey's points. */
  readonly pointOrder: number;
  /** Distinct event names, in declared order. */
  readonly eventNames: readonly string[];
}

/** The EVENT entry points that are not deactivated and every WAIT_EVENT point of a validated journey. */
export function triggersOf(points: readonly Point[]): TriggerDeclaration[] {
  const declarations: TriggerDeclaration[] = [];
  points.forEach((point, pointOrder) => {
    if (point.point_type === 'POINT_TYPE_EVENT' && point.point_data.message_bus.is_deactivated !== true) {
      declarations.push({
        kind: 'entry',
        pointUuid: point.uuid,
        pointOrder,
        eventNames: [point.point_data.message_bus.event_name],
      });
    } else if (point.point_type === 'POINT_TYPE_WAIT_EVENT') {
      const names = [...new Set(point.point_data.wait_event.branches.map((branch) => branch.event_name))];
      declarations.push({ kind: 'wait', pointUuid: point.uuid, pointOrder, eventNames: names });
    }
  });
  return declarations;
}

/** A trigger compiled once and tested against every event that names it. */
export type CompiledTrigger =
  | { readonly kind: 'entry'; readonly pointUuid: string; readonly matcher: EventMatcher }
  | {
      readonly kind: 'wait';
      readonly pointUuid: string;
      readonly rule: WaitEventRule;
      /** Branch key → the point a run taking that branch moves to. */
      readonly next: ReadonlyMap<string, string>;
    };

/**
 * Compiles the trigger of a point that `start` validated. Throws if the point
 * is not an EVENT or WAIT_EVENT point or its data does not compile: either
 * means the trigger index holds something `start` never accepted.
 */
export function compileTrigger(point: Point): CompiledTrigger {
  if (point.point_type === 'POINT_TYPE_EVENT') {
    const { event_name: name, event_conditions: conditions } = point.point_data.message_bus;
    const compiled = compileEventMatcher(name, conditions);
    if (!compiled.ok) throw new Error(`event trigger ${point.uuid}: ${compiled.error}`);
    return { kind: 'entry', pointUuid: point.uuid, matcher: compiled.value };
  }
  if (point.point_type === 'POINT_TYPE_WAIT_EVENT') {
    const compiled = compileWaitEvent(point.point_data.wait_event);
    if (!compiled.ok) throw new Error(`event trigger ${point.uuid}: ${compiled.error}`);
    const next = new Map(point.outputs.map((output) => [output.key, output.next_point_uuid]));
    return { kind: 'wait', pointUuid: point.uuid, rule: compiled.value, next };
  }
  throw new Error(`point ${point.uuid} is a ${point.point_type}, which reacts to no event`);
}

export interface PostedEvent {
  readonly name: string;
  readonly attributes: EventAttributes;
}

/** Whether the event enters its user at this EVENT entry point. */
export function entersAt(trigger: Extract<CompiledTrigger, { kind: 'entry' }>, event: PostedEvent): boolean {
  return eventMatches(trigger.matcher, event.name, event.attributes);
}

/** Where the event moves a run waiting at this WAIT_EVENT point: the first matching branch's next point, if any. */
export function wakeTarget(trigger: Extract<CompiledTrigger, { kind: 'wait' }>, event: PostedEvent): string | undefined {
  const branch = firstMatchingBranch(trigger.rule, event.name, event.attributes);
  return branch === undefined ? undefined : trigger.next.get(branch);
}

/**
 * The attribute values of a run entered by an event: the event's attributes,
 * each as text so that runs from every kind of entry hold the same shape
 * (strings): a string as is, a number or boolean as its JSON text, null as
 * "", and a list as its JSON text (`["red","blue"]`).
 */
export function eventAttributeValues(attributes: EventAttributes): Record<string, string> {
  return Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, attributeText(value)]));
}

function attributeText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}

/**
 * When a START_BY_SEGMENT point enters its segment, for a journey started at
 * `startedAt`: at once without `start_at` or when it is past, else at
 * `start_at`. A `start_at` without a UTC offset is read as UTC: a segment
 * enters at one instant, not at each device's local time.
 */
export function segmentEntryDueAt(startAt: string | undefined, startedAt: number): number {
  if (startAt === undefined) return startedAt;
  const parsed = parseUntilDate(startAt);
  if (!parsed.ok) throw new Error(`start_by_segment.start_at: ${parsed.error}`);
  const at = parsed.value.kind === 'instant' ? parsed.value.atMs : parsed.value.wallClockMs;
  return Math.max(at, startedAt);
}
