import { DEFAULT_OUTPUT, isEntryPointType, MATCHED_OUTPUT, type Point } from '../journey.js';

/** The output keys a point must have, each exactly once, in the order they are reported. */
export function expectedOutputKeys(point: Point): string[] {
  switch (point.point_type) {
    case 'POINT_TYPE_EXIT':
      return [];
    case 'POINT_TYPE_BOOLEAN_SPLITTER':
      return [MATCHED_OUTPUT, DEFAULT_OUTPUT];
    case 'POINT_TYPE_AB_SPLITTER':
      return point.point_data.ab_splitter.branches.map((branch) => branch.key);
    case 'POINT_TYPE_WAIT_EVENT':
      return [...point.point_data.wait_event.branches.map((branch) => branch.key), DEFAULT_OUTPUT];
    default:
      return [DEFAULT_OUTPUT];
  }
}

/** A problem with one point, to be reported as `point "<title>" (<uuid>): <problem>`. */
export interface PointProblem {
  readonly point: Point;
  readonly problem: string;
}

/**
 * Checks that each point has exactly the outputs its type needs and that each
 * leads to an existing point other than an entry point.
 */
export function findWiringProblem(points: readonly Point[]): PointProblem | undefined {
  const byUuid = new Map(points.map((point) => [point.uuid, point]));
  for (const point of points) {
    const expected = expectedOutputKeys(point);
    const seen = new Set<string>();
    for (const output of point.outputs) {
      const report = (problem: string): PointProblem => ({ point, problem });
      if (!expected.includes(output.key)) {
        if (expected.length === 0) return report(`${point.point_type} has no outputs, but output "${output.key}" is set`);
        return report(`output "${output.key}" is not an output of ${point.point_type} (expected ${quoteAll(expected)})`);
      }
      if (seen.has(output.key)) return report(`output "${output.key}" is set more than once`);
      seen.add(output.key);
      if (output.next_point_uuid === '') return report(`output "${output.key}" is not wired to a point`);
      const next = byUuid.get(output.next_point_uuid);
      if (!next) return report(`output "${output.key}" leads to unknown point "${output.next_point_uuid}"`);
      if (isEntryPointType(next.point_type)) {
        return report(
          `output "${output.key}" leads to entry point "${next.uuid}" (${next.point_type}); nothing may lead into an entry point`,
        );
      }
    }
    const missing = expected.find((key) => !seen.has(key));
    if (missing !== undefined) return { point, problem: `output "${missing}" is not wired to a point` };
  }
  return undefined;
}

/** The first point, in list order, that no path from an entry point reaches. Assumes wiring is valid. */
export function findUnreachablePoint(points: readonly Point[]): Point | undefined {
  const byUuid = new Map(points.map((point) => [point.uuid, point]));
  const reached = new Set<string>();
  const pending = points.filter((point) => isEntryPointType(point.point_type));
  for (let point = pending.pop(); point !== undefined; point = pending.pop()) {
    if (reached.has(point.uuid)) continue;
    reached.add(point.uuid);
    for (const output of point.outputs) {
      const next = byUuid.get(output.next_point_uuid);
      if (next && !reached.has(next.uuid)) pending.push(next);
    }
  }
  return points.find((point) => !reached.has(point.uuid));
}

/**
 * Whether a run passing through the point always waits for time to pass (a
 * positive delay) or for a new event. Other waits may be due at once: an
 * `until_date` in the past, or an `until_time` during its own minute.
 */
function alwaysWaits(point: Point): boolean {
  if (point.point_type === 'POINT_TYPE_WAIT_EVENT') return true;
  if (point.point_type !== 'POINT_TYPE_WAIT') return false;
  const delay = point.point_data.wait.delay_seconds;
  return delay !== undefined && delay > 0;
}

/**
 * A loop that a run could go round without ever waiting would spin the
 * engine; every loop must pass through a point that always waits. Returns
 * such a loop as the list of points on it, starting at the first one found
 * in list order. Assumes wiring is valid.
 */
export function findLoopWithoutWait(points: readonly Point[]): Point[] | undefined {
  const byUuid = new Map(points.map((point) => [point.uuid, point]));
  const successors = (point: Point): Point[] =>
    alwaysWaits(point) ? [] : point.outputs.flatMap((output) => byUuid.get(output.next_point_uuid) ?? []);
  const finished = new Set<string>();
  for (const root of points) {
    if (finished.has(root.uuid)) continue;
    // Iterative depth-first search; `path` is the current chain from root, `onPath` its members.
    const path: Point[] = [root];
    const onPath = new Set([root.uuid]);
    const nextChild: number[] = [0];
    while (path.length > 0) {
      const top = path.length - 1;
      const current = path[top] as Point;
      const children = successors(current);
      const childIndex = nextChild[top] as number;
      if (childIndex >= children.length) {
        path.pop();
        nextChild.pop();
        onPath.delete(current.uuid);
        finished.add(current.uuid);
        continue;
      }
      nextChild[top] = childIndex + 1;
      const child = children[childIndex] as Point;
      if (onPath.has(child.uuid)) return path.slice(path.findIndex((p) => p.uuid === child.uuid));
      if (finished.has(child.uuid)) continue;
      path.push(child);
      onPath.add(child.uuid);
      nextChild.push(0);
    }
  }
  return undefined;
}

function quoteAll(keys: readonly string[]): string {
  return keys.map((key) => `"${key}"`).join(', ');
}
