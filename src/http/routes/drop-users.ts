import { Type } from '@sinclair/typebox';
import { readDropRequest, type DropRequest } from '../../domain/drop-request.js';
import type { TokenGrant } from '../../store/applications/index.js';
import type { Store } from '../../store/store.js';
import { authenticate, grantOf } from '../auth.js';
import type { App, AppDeps } from '../app.js';
import { badRequest } from '../errors.js';
import { findVisibleJourney } from '../visible-journey.js';
import { errorReplies, SECURITY } from '../openapi.js';

// The body's gross shape only; its fields are checked by hand so that the first problem is named.
const DropBody = Type.Object(
  {
    user_ids: Type.Optional(Type.Unknown()),
    journey_uuids: Type.Optional(Type.Unknown()),
    all_journeys: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);

const Count = Type.Integer({ minimum: 0 });
const Dropped = Type.Object({ dropped: Count, cancelled_messages: Count });

/**
 * `POST /api/journey/drop-users/external` (docs/entry-and-events.md): ends the users'
 * active runs in the journeys at once and cancels their unsent messages
 * there. A journey uuid the token cannot see answers 404 as for every journey
 * endpoint, and nothing is written. docs/entry-and-events.md.
 */
export async function dropUsersRoutes(app: App, { store }: AppDeps): Promise<void> {
  app.post(
    '/api/journey/drop-users/external',
    {
      onRequest: authenticate(store, ['Api']),
      schema: {
        tags: ['journey data'],
        summary: "End users' active runs in journeys and cancel their unsent messages",
        description:
          'The body is `{"user_ids": [...], "journey_uuids": [...]}` or `{"user_ids": [...], "all_journeys": true}` (docs/entry-and-events.md).',
        security: [SECURITY.api],
        body: DropBody,
        response: { 200: Dropped, ...errorReplies([400, 401, 404, 413]) },
      },
    },
    async (request) => {
      const parsed = readDropRequest(request.body);
      if (!parsed.ok) throw badRequest(parsed.error);
      const journeyIds = await journeysInScope(store, grantOf(request), parsed.value.scope);
      const outcome = await store.dropUsers.drop({ journeyIds, userIds: parsed.value.userIds });
      return { dropped: outcome.droppedRuns, cancelled_messages: outcome.cancelledMessages };
    },
  );
}

async function journeysInScope(store: Store, grant: TokenGrant, scope: DropRequest['scope']): Promise<number[]> {
  if (scope.kind === 'all') return store.dropUsers.journeyIdsOf([...grant.applicationIds]);
  const ids: number[] = [];
  for (const uuid of scope.uuids) {
    const journey = await findVisibleJourney(store, grant, uuid);
    ids.push(journey.id);
  }
  return ids;
}
