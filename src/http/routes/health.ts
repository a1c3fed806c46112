import type { App, AppDeps } from '../app.js';

/** `/healthz`: the process answers. `/readyz`: the database answers and its migrations are current. */
export async function healthRoutes(app: App, { store }: AppDeps): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      if (await store.migrationsAreCurrent()) return { status: 'ready' };
      return reply.code(503).send({ code: 503, message: 'database migrations are not current' });
    } catch (error) {
      return reply.code(503).send({ code: 503, message: `database unreachable: ${(error as Error).message}` });
    }
  });
}
