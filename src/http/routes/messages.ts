import { Type } from '@sinclair/typebox';
import { authenticate, grantOf } from '../auth.js';
import { badRequest } from '../errors.js';
import type { App, AppDeps } from '../app.js';
import { pagedReply, pageWindow, parsePage } from '../paging.js';
import { findVisibleJourney } from '../visible-journey.js';
import { errorReplies, SECURITY } from '../openapi.js';

export const MESSAGES_PAGE_SIZE = 100;
/** The longest content string the log returns whole; a longer one is cut there and marked. */
export const CONTENT_EXCERPT_LENGTH = 1024;

const Params = Type.Object({ id: Type.String() });
const Query = Type.Object({ user_id: Type.Optional(Type.String()), page: Type.Optional(Type.String()) });

const Delivery = Type.Object({
  message_id: Type.Integer(),
  point_uuid: Type.String(),
  channel: Type.String(),
  provider: Type.String(),
  recipient: Type.String(),
  hwid: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('sent'), Type.Literal('failed')]),
  reason: Type.Union([Type.String(), Type.Null()]),
  response_code: Type.Union([Type.Integer(), Type.Null()]),
  attempts: Type.Integer(),
  content: Type.Record(Type.String(), Type.Unknown()),
  created_at: Type.String(),
  delivered_at: Type.String(),
});

const MessagesReply = Type.Object({
  _metadata: Type.Object({ page: Type.Integer(), page_count: Type.Integer(), total_count: Type.Integer() }),
  payload: Type.Object({ items: Type.Array(Delivery) }),
});

/**
 * `GET /api/journey/{id}/messages?user_id=…[&page=N]`: the delivery log of
 * one user in one journey — every message that reached a final outcome
 * (`sent`, or `failed` with the reason), oldest first, with its rendered
 * content, each string of it cut to CONTENT_EXCERPT_LENGTH. Messages still
 * waiting or being retried are not listed yet. docs/messages.md.
 */
export async function messageRoutes(app: App, { store }: AppDeps): Promise<void> {
  app.get(
    '/api/journey/:id/messages',
    {
      onRequest: authenticate(store, ['Api']),
      schema: {
        tags: ['journey data'],
        summary: "A user's delivery log in a journey, newest first",
        security: [SECURITY.api],
        params: Params,
        querystring: Query,
        response: { 200: MessagesReply, ...errorReplies([400, 401, 404]) },
      },
    },
    async (request) => {
      const { user_id: userId, page: rawPage } = request.query;
      if (userId === undefined || userId === '') throw badRequest('user_id is required: the user whose messages to list');
      const page = parsePage(rawPage);
      const stored = await findVisibleJourney(store, grantOf(request), request.params.id);
      const { total, items } = await store.outbox.listDeliveries(stored.id, userId, pageWindow(page, MESSAGES_PAGE_SIZE));
      return pagedReply(
        page,
        MESSAGES_PAGE_SIZE,
        total,
        items.map((d) => ({
          message_id: d.messageId,
          point_uuid: d.pointUuid,
          channel: d.channel,
          provider: d.provider,
          recipient: d.recipient,
          hwid: d.hwid,
          status: d.outcome,
          reason: d.reason,
          response_code: d.responseCode,
          attempts: d.attempts,
          content: excerptStrings(d.content) as Record<string, unknown>,
          created_at: new Date(d.createdAt).toISOString(),
          delivered_at: new Date(d.deliveredAt).toISOString(),
        })),
      );
    },
  );
}

/** `value` with every string longer than CONTENT_EXCERPT_LENGTH cut there, marked with its full length. */
function excerptStrings(value: unknown): unknown {
  if (typeof value === 'string') {
    if (value.length <= CONTENT_EXCERPT_LENGTH) return value;
    // Not between the two halves of a surrogate pair.
    const end = isHighSurrogate(value.charCodeAt(CONTENT_EXCERPT_LENGTH - 1)) ? CONTENT_EXCERPT_LENGTH - 1 : CONTENT_EXCERPT_LENGTH;
    return `${value.slice(0, end)}… [truncated: ${value.length} characters in all]`;
  }
  if (Array.isArray(value)) return value.map(excerptStrings);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, excerptStrings(item)]));
  }
  return value;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}
