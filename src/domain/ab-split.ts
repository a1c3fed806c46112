import type { PointDataByType } from './journey.js';

/**
 * A/B splitter branch assignment. A user's branch is a pure function of
 * (journey uuid, point uuid, user id): MurmurHash3 (x86, 32-bit) of the user id's
 * UTF-8 bytes, seeded with the hash of "journeyUuid:pointUuid", placed on the
 * cumulative percents of the branches. Keyed by user rather than run, so a user
 * who re-enters the journey (allow_reenter) lands in the same branch again and
 * an experiment's groups never mix; keyed by journey and point too, so two
 * splitters split independently of each other. docs/engine-rules.md has the rules.
 */

type AbBranch = PointDataByType['POINT_TYPE_AB_SPLITTER']['ab_splitter']['branches'][number];

/** A compiled splitter: build once per (journey, point) and reuse for every run. */
export interface AbSplit {
  readonly keys: readonly string[];
  /** Exclusive upper bound in hash space [0, 2^32) of each branch, ascending; the last is 2^32. */
  readonly bounds: readonly number[];
  readonly seed: number;
}

export type AbSplitCompile = { ok: true; split: AbSplit } | { ok: false; error: string };

const HASH_SPACE = 2 ** 32;
const PERCENT_SUM_TOLERANCE = 1e-6;

/** Validates an AB_SPLITTER point's branches; errors name the field, e.g. `ab_splitter.branches[1].percent: …`. */
export function compileAbSplit(journeyUuid: string, pointUuid: string, branches: readonly AbBranch[]): AbSplitCompile {
  const fail = (error: string): AbSplitCompile => ({ ok: false, error: `ab_splitter.branches${error}` });
  if (!Array.isArray(branches) || branches.length === 0) return fail(' must be a non-empty list of {key, percent}');
  const keys: string[] = [];
  const bounds: number[] = [];
  let cumulative = 0;
  // A draft's JSON may hold anything in the list: each element is checked, null and missing ones too.
  for (const [index, branch] of (branches as readonly (AbBranch | null | undefined)[]).entries()) {
    const key: unknown = branch?.key;
    const percent: unknown = branch?.percent;
    if (typeof key !== 'string' || key === '') return fail(`[${index}].key must be a non-empty string`);
    if (keys.includes(key)) return fail(`[${index}].key "${key}" is used by more than one branch`);
    if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100) {
      return fail(`[${index}].percent must be a number from 0 to 100`);
    }
    cumulative += percent;
    keys.push(key);
    bounds.push(Math.min(HASH_SPACE, Math.round((cumulative / 100) * HASH_SPACE)));
  }
  if (Math.abs(cumulative - 100) > PERCENT_SUM_TOLERANCE) return fail(` percents must sum to 100, not ${cumulative}`);
  bounds[bounds.length - 1] = HASH_SPACE;
  return { ok: true, split: { keys, bounds, seed: murmurHash3(`${journeyUuid}:${pointUuid}`, 0) } };
}

/** The branch key of `userId` in `split`; the same inputs always give the same key. */
export function assignBranch(split: AbSplit, userId: string): string {
  const hash = murmurHash3(userId, split.seed);
  const { bounds, keys } = split;
  let index = 0;
  while (hash >= bounds[index]!) index++;
  return keys[index]!;
}

const encoder = new TextEncoder();
// Reused across calls so hashing a million ids allocates nothing per id.
let utf8Scratch = new Uint8Array(256);

/** MurmurHash3 x86_32 of the UTF-8 encoding of `text`, as an unsigned 32-bit integer. */
export function murmurHash3(text: string, seed: number): number {
  // A UTF-16 code unit never takes more than 3 UTF-8 bytes.
  if (text.length * 3 > utf8Scratch.length) utf8Scratch = new Uint8Array(text.length * 3);
  const bytes = utf8Scratch;
  const length = encoder.encodeInto(text, bytes).written;
  const blockEnd = length & ~3;
  let h = seed | 0;
  for (let i = 0; i < blockEnd; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h ^= scrambleBlock(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = bytes[blockEnd]!;
    if (tail >= 2) k |= bytes[blockEnd + 1]! << 8;
    if (tail === 3) k |= bytes[blockEnd + 2]! << 16;
    h ^= scrambleBlock(k);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function scrambleBlock(block: number): number {
  let k = Math.imul(block, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}
