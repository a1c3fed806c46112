import { isUuid } from '../domain/uuid.js';
import type { TokenGrant } from '../store/applications/index.js';
import type { StoredJourney } from '../store/journeys/index.js';
import type { Store } from '../store/store.js';
import { notFound } from './errors.js';

/**
 * The journey named by `id` if the token is granted its application; otherwise
 * 404 either way, so a journey of another application does not exist (docs/http-api.md).
 */
export function findVisibleJourney(store: Store, grant: TokenGrant, id: string): Promise<StoredJourney> {
  return findVisible(grant, id, (uuid) => store.journeys.findByUuid(uuid));
}

/** `findVisibleJourney` with `find` reading as much of the journey as the caller needs. */
export async function findVisible<Found extends { readonly applicationId: number }>(
  grant: TokenGrant,
  id: string,
  find: (uuid: string) => Promise<Found | undefined>,
): Promise<Found> {
  if (!isUuid(id)) throw notFound('journey not found: the id is not a journey uuid');
  const found = await find(id.toLowerCase());
  if (!found || !grant.applicationIds.has(found.applicationId)) throw notFound(`journey ${id} not found`);
  return found;
}
