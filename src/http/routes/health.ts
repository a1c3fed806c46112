import { Type } from '@sinclair/typebox';
import type { App, AppDeps } from '../app.js';
import { errorReplies } from '../openapi.js';

/** `/healthz`: the process answers. `/readyz`: the database answers and its migrations are current. */
export async function healthRoutes(app: App, { store }: AppDeps): Promise<void> {
  app.get(
    '/healthz',
    { schema: { tags: TAGS, summary: 'The process answers', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        tags: TAGS,
        summary: 'The database answers and its migrations are current',
        response: { 200: Type.Object({ status: Type.Literal('ready') }), ...errorReplies([503]) },
      },
    },
    async (_request, reply) => {
      try {
        if (await store.migrationsAreCurrent()) return { status: 'ready' as const };
        return reply.code(503).send({ code: 503, message: 'database migrations are not current' });
      } catch (error) {
        return reply.code(503).send({ code: 503, message: `database unreachable: ${(error as Error).message}` });
      }
    },
  );
}

const TAGS = ['operations'];
