import type { JourneyParams, Point } from '../domain/journey.js';
import { compileSilentHours, type SilentHours } from '../domain/silent-hours.js';
import type { PointGroup, RunningJourney } from '../store/runs/index.js';

/**
 * A running journey as the scheduler executes it: its points by uuid, where
 * each output leads, its compiled silent hours, and a cache of each point's
 * compiled rules. A plan is built once per journey revision, so a rule is
 * compiled once per point per revision and then applied to every batch.
 */
export class JourneyPlan {
  readonly id: number;
  readonly uuid: string;
  readonly applicationId: number;
  readonly revision: number;
  readonly params: JourneyParams;
  /** Null when the journey has no silent hours (or an empty window). */
  readonly silentHours: SilentHours | null;
  private readonly pointsByUuid = new Map<string, Point>();
  private readonly compiled = new Map<string, unknown>();

  constructor(journey: RunningJourney) {
    this.id = journey.id;
    this.uuid = journey.uuid;
    this.applicationId = journey.applicationId;
    this.revision = journey.revision;
    this.params = journey.params;
    for (const point of journey.points) this.pointsByUuid.set(point.uuid, point);
    // `start` refuses invalid silent hours (journeyParamsProblem), so a running journey's parse.
    const silentHours = compileSilentHours(journey.params.silent_hours ?? null);
    this.silentHours = silentHours.ok ? silentHours.rule : null;
  }

  point(uuid: string): Point | undefined {
    return this.pointsByUuid.get(uuid);
  }

  points(): Point[] {
    return [...this.pointsByUuid.values()];
  }

  /** The point an output of `point` leads to; undefined when the output is not wired. */
  next(point: Point, output: string): string | undefined {
    return point.outputs.find((o) => o.key === output)?.next_point_uuid;
  }

  /** Every (journey, point) pair runs of this journey can be due at. */
  groups(): PointGroup[] {
    return [...this.pointsByUuid.keys()].map((pointUuid) => ({ journeyId: this.id, pointUuid }));
  }

  /** The point's compiled rule named `key`, built by `build` on first use. */
  rule<T>(point: Point, key: string, build: () => T): T {
    const cacheKey = `${point.uuid}\u0000${key}`;
    if (this.compiled.has(cacheKey)) return this.compiled.get(cacheKey) as T;
    const value = build();
    this.compiled.set(cacheKey, value);
    return value;
  }
}
