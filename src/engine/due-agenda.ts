import type { GroupDue, PointGroup } from '../store/runs/index.js';

interface Entry {
  readonly group: PointGroup;
  /** The group's earliest active run; due when at or before now. */
  nextDueAt: number;
  /** Batches of this group being executed by this process's loops. */
  inFlight: number;
  /** The last batch was full, so more loops may take batches of this group at once. */
  large: boolean;
  /** Not to be tried before this instant (after a failed batch), or until the next refresh (Infinity). */
  notBefore: number;
  /** Batches of this group that threw since its last one that committed. */
  failures: number;
}

/**
 * What the scheduler knows about which (journey, point) groups have runs
 * and when each is next due. Rebuilt from the database on every refresh
 * (wake-ups, and at least every poll interval); between refreshes it is kept
 * current by the process's own batches: a batch reports its group's next due
 * time, and every point its runs advanced to is due at once.
 */
export class DueAgenda {
  private entries = new Map<string, Entry>();

  /** Replaces everything with a fresh reading of the database. */
  replace(dues: readonly GroupDue[]): void {
    const next = new Map<string, Entry>();
    for (const due of dues) {
      const key = keyOf(due);
      const previous = this.entries.get(key);
      next.set(key, {
        group: { journeyId: due.journeyId, pointUuid: due.pointUuid },
        nextDueAt: due.nextDueAt,
        inFlight: previous?.inFlight ?? 0,
        large: previous?.large ?? false,
        notBefore: previous && Number.isFinite(previous.notBefore) ? previous.notBefore : 0,
        failures: previous?.failures ?? 0,
      });
    }
    this.entries = next;
  }

  /**
   * The group with the earliest due run at or before `now` that a loop may
   * take, marked in flight; undefined when none. A group already in flight
   * is taken again only when its last batch was full (so parallel batches
   * find work instead of each other's locked rows).
   */
  take(now: number): PointGroup | undefined {
    let best: Entry | undefined;
    for (const entry of this.entries.values()) {
      if (entry.nextDueAt > now || entry.notBefore > now) continue;
      if (entry.inFlight > 0 && !entry.large) continue;
      if (!best || entry.nextDueAt < best.nextDueAt) best = entry;
    }
    if (best) best.inFlight++;
    return best?.group;
  }

  /**
   * Records a batch of `group` that took `taken` runs (a full batch when
   * `full`). `nextDueAt` is the group's earliest remaining run (null: none).
   * A batch that found nothing due although runs are due was beaten to them
   * by another process: the group waits for the next refresh.
   */
  finished(group: PointGroup, outcome: { taken: number; full: boolean; nextDueAt: number | null; now: number }): void {
    const entry = this.entries.get(keyOf(group));
    if (!entry) return;
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.large = outcome.full;
    entry.failures = 0;
    if (outcome.nextDueAt === null) {
      if (entry.inFlight === 0) this.entries.delete(keyOf(group));
      return;
    }
    entry.nextDueAt = outcome.nextDueAt;
    if (outcome.taken === 0 && outcome.nextDueAt <= outcome.now) entry.notBefore = Infinity;
  }

  /** A batch of `group` threw: it is counted, and the group is not tried again before `retryAt`. */
  failed(group: PointGroup, retryAt: number): void {
    const entry = this.entries.get(keyOf(group));
    if (!entry) return;
    entry.failures++;
    this.setAside(group, retryAt);
  }

  /** Batches of `group` that threw since its last one that committed. */
  failuresOf(group: PointGroup): number {
    return this.entries.get(keyOf(group))?.failures ?? 0;
  }

  /** `group` is not taken before `until` (Infinity: before the next refresh); no batch of it is in flight here. */
  setAside(group: PointGroup, until: number): void {
    const entry = this.entries.get(keyOf(group));
    if (!entry) return;
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.notBefore = until;
  }

  /** Runs have arrived at `group`, due at `at`. */
  due(group: PointGroup, at: number): void {
    const key = keyOf(group);
    const entry = this.entries.get(key);
    if (entry) {
      entry.nextDueAt = Math.min(entry.nextDueAt, at);
      return;
    }
    this.entries.set(key, { group, nextDueAt: at, inFlight: 0, large: false, notBefore: 0, failures: 0 });
  }

  /** Forgets every group of a journey (it stopped running). */
  dropJourney(journeyId: number): void {
    for (const [key, entry] of this.entries) if (entry.group.journeyId === journeyId) this.entries.delete(key);
  }

  /**
   * The earliest instant at which some group may be taken, or undefined when
   * there is none. Groups in flight that cannot be taken again are left out:
   * their batch's end wakes the loops.
   */
  earliest(): number | undefined {
    let earliest: number | undefined;
    for (const entry of this.entries.values()) {
      if (entry.inFlight > 0 && !entry.large) continue;
      const at = Math.max(entry.nextDueAt, entry.notBefore);
      if (Number.isFinite(at) && (earliest === undefined || at < earliest)) earliest = at;
    }
    return earliest;
  }
}

function keyOf(group: PointGroup): string {
  return `${group.journeyId}\u0000${group.pointUuid}`;
}
