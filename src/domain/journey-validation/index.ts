import { ENTRY_POINT_TYPES, isEntryPointType, POINT_UUID_MAX_LENGTH, type JourneyParams, type Point, type PointDraft } from '../journey.js';
import { compileSilentHours } from '../silent-hours.js';
import { FieldProblem } from './fields.js';
import { findLoopWithoutWait, findUnreachablePoint, findWiringProblem } from './graph.js';
import { WebhookDestinationPolicy } from '../webhook-destination.js';
import { parsePoint } from './point-fields.js';
import { err, ok, type Result } from '../result.js';

export { expectedOutputKeys } from './graph.js';

/**
 * Everything `start` requires of a journey's points, checked in this order
 * and reported as the first problem found, naming the point:
 *
 * 1. at least one entry point (START_BY_API, START_BY_SEGMENT, EVENT);
 * 2. point uuids are unique and at most POINT_UUID_MAX_LENGTH characters (drafts saved before that limit may be longer);
 * 3. each point's fields (`parsePoint`): required fields, their types, templates, filters,
 *    webhook URLs (a fixed origin the destination policy allows);
 * 4. each point has exactly the outputs its type needs, each wired to an existing non-entry point;
 * 5. every point is reachable from an entry point;
 * 6. every loop passes through a point that always waits.
 */
export function validateJourneyForStart(
  journeyUuid: string,
  drafts: readonly PointDraft[],
  webhookDestinations: WebhookDestinationPolicy = WebhookDestinationPolicy.STRICT,
): Result<Point[]> {
  if (!drafts.some((point) => isEntryPointType(point.point_type))) {
    return err(`journey has no entry point (one of ${ENTRY_POINT_TYPES.join(', ')})`);
  }

  const uuids = new Set<string>();
  for (const draft of drafts) {
    if (draft.uuid.length > POINT_UUID_MAX_LENGTH) {
      return err(`point uuid "${draft.uuid.slice(0, 32)}…" is longer than ${POINT_UUID_MAX_LENGTH} characters`);
    }
    if (uuids.has(draft.uuid)) return refuse(draft, 'uuid is used by more than one point');
    uuids.add(draft.uuid);
  }

  const points: Point[] = [];
  for (const draft of drafts) {
    try {
      points.push(parsePoint(draft, { journeyUuid, webhookDestinations }));
    } catch (error) {
      if (error instanceof FieldProblem) return refuse(draft, error.message);
      throw error;
    }
  }

  const wiring = findWiringProblem(points);
  if (wiring) return refuse(wiring.point, wiring.problem);

  const unreachable = findUnreachablePoint(points);
  if (unreachable) return refuse(unreachable, 'cannot be reached from any entry point');

  const loop = findLoopWithoutWait(points);
  if (loop) {
    const route = [...loop, loop[0] as Point].map((point) => point.uuid).join(' → ');
    return refuse(
      loop[0] as Point,
      `is on a loop that never waits (${route}); a loop must pass through a WAIT with delay_seconds above 0 or a WAIT_EVENT`,
    );
  }

  return ok(points);
}

/** `point "<title>" (<uuid>)`, or `point (<uuid>)` for an untitled point. */
export function describePoint(point: Pick<PointDraft, 'uuid' | 'title'>): string {
  const title = point.title?.trim() ? `${JSON.stringify(point.title)} ` : '';
  return `point ${title}(${point.uuid})`;
}

function refuse(point: Pick<PointDraft, 'uuid' | 'title'>, problem: string): Result<Point[]> {
  return err(`${describePoint(point)}: ${problem}`);
}

/** The first problem with a journey's params beyond their JSON shape, naming the field; undefined when fine. */
export function journeyParamsProblem(params: JourneyParams): string | undefined {
  const silentHours = compileSilentHours(params.silent_hours ?? null);
  return silentHours.ok ? undefined : `params.${silentHours.error}`;
}

/** A point's seglang filter, named by its path under `point_data`. */
export interface FilterField {
  readonly path: string;
  readonly filter: string;
}

/** The seglang filters of a point: a boolean splitter's and a segment entry's. */
export function filterFieldsOf(point: Point): FilterField[] {
  switch (point.point_type) {
    case 'POINT_TYPE_BOOLEAN_SPLITTER':
      return [{ path: 'boolean_splitter.filter', filter: point.point_data.boolean_splitter.filter }];
    case 'POINT_TYPE_START_BY_SEGMENT':
      return [{ path: 'start_by_segment.filter', filter: point.point_data.start_by_segment.filter }];
    default:
      return [];
  }
}
