import type { App, HttpMetrics } from '../app.js';

/** `/metrics`: Prometheus text exposition, without authentication (docs/operations.md). */
export async function metricsRoutes(app: App, { metrics }: { metrics: HttpMetrics }): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.exposition();
    return reply.type(contentType).send(body);
  });
}
