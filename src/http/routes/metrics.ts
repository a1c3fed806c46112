import type { App, HttpMetrics } from '../app.js';
import { authenticateBearer } from '../auth.js';
import { errorReplies, SECURITY } from '../openapi.js';

/** `/metrics` on the API port: Prometheus text exposition to the holder of the metrics token (docs/operations.md). */
export async function metricsRoutes(app: App, { metrics, token }: { metrics: HttpMetrics; token: string }): Promise<void> {
  app.get(
    '/metrics',
    {
      preHandler: authenticateBearer(token),
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        security: [SECURITY.metrics],
        response: {
          200: { description: 'the Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errorReplies([401]),
        },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await metrics.exposition();
      return reply.type(contentType).send(body);
    },
  );
}
