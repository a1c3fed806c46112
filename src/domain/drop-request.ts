import { USER_ID_MAX_LENGTH } from './device.js';
import { isUuid } from './uuid.js';

/**
 * A drop-users request (docs/entry-and-events.md), checked field by field so that the
 * first problem is reported naming its field. See docs/entry-and-events.md.
 */

/** User ids per request: one transaction ends their runs, so the request stays bounded. */
export const MAX_DROP_USER_IDS = 10_000;
/** Journey uuids per request. */
export const MAX_DROP_JOURNEYS = 100;

export const DROP_MESSAGES = {
  noScope: 'one of journey_uuids or all_journeys must be provided',
  manyScopes: 'only one of journey_uuids or all_journeys must be provided',
} as const;

export interface DropRequest {
  /** De-duplicated, in first-seen order. */
  readonly userIds: readonly string[];
  /** Lower-case and de-duplicated journey uuids, or every journey the token may see. */
  readonly scope: { readonly kind: 'journeys'; readonly uuids: readonly string[] } | { readonly kind: 'all' };
}

export type DropRequestCheck =
  | { readonly ok: true; readonly value: DropRequest }
  | { readonly ok: false; readonly message: string };

const fail = (message: string): DropRequestCheck => ({ ok: false, message });

/**
 * `user_ids` is a non-empty list of non-empty strings; exactly one of
 * `journey_uuids` (a non-empty list of uuids; an empty list counts as not
 * given) and `all_journeys: true` (`false` counts as not given). Other keys
 * are ignored.
 */
export function readDropRequest(body: unknown): DropRequestCheck {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('the body must be a JSON object {"user_ids", "journey_uuids" | "all_journeys"}');
  }
  const { user_ids: rawUsers, journey_uuids: rawJourneys, all_journeys: allJourneys } = body as Record<string, unknown>;

  if (!Array.isArray(rawUsers) || rawUsers.length === 0) return fail('user_ids must be a non-empty list of user ids');
  if (rawUsers.length > MAX_DROP_USER_IDS) {
    return fail(`user_ids must contain at most ${MAX_DROP_USER_IDS} ids, got ${rawUsers.length}`);
  }
  for (const [index, id] of rawUsers.entries()) {
    if (typeof id !== 'string' || id === '' || id.length > USER_ID_MAX_LENGTH) {
      return fail(`user_ids[${index}] must be a string of 1 to ${USER_ID_MAX_LENGTH} characters, got ${describe(id)}`);
    }
  }
  const userIds = [...new Set(rawUsers as string[])];

  if (allJourneys !== undefined && typeof allJourneys !== 'boolean') {
    return fail(`all_journeys must be true or false, got ${describe(allJourneys)}`);
  }
  if (rawJourneys !== undefined && !Array.isArray(rawJourneys)) {
    return fail(`journey_uuids must be a list of journey uuids, got ${describe(rawJourneys)}`);
  }
  const journeysGiven = Array.isArray(rawJourneys) && rawJourneys.length > 0;
  if (journeysGiven && allJourneys === true) return fail(DROP_MESSAGES.manyScopes);
  if (allJourneys === true) return { ok: true, value: { userIds, scope: { kind: 'all' } } };
  if (!journeysGiven) return fail(DROP_MESSAGES.noScope);

  const journeys = rawJourneys as unknown[];
  if (journeys.length > MAX_DROP_JOURNEYS) {
    return fail(`journey_uuids must contain at most ${MAX_DROP_JOURNEYS} uuids, got ${journeys.length}`);
  }
  for (const [index, uuid] of journeys.entries()) {
    if (typeof uuid !== 'string' || !isUuid(uuid)) {
      return fail(`journey_uuids[${index}] must be a journey uuid, got ${describe(uuid)}`);
    }
  }
  const uuids = [...new Set((journeys as string[]).map((uuid) => uuid.toLowerCase()))];
  return { ok: true, value: { userIds, scope: { kind: 'journeys', uuids } } };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- JSON.stringify gives undefined only for a function or a symbol, which String names.
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
