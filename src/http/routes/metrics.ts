import type { App, HttpMetrics } from '../app.js';
import { authenticateBearer } from '../auth.js';

/** `/metrics` on the API port: Prometheus text exposition to the holder of the metrics token (docs/operations.md). */
export async function metricsRoutes(app: App, { metrics, token }: { metrics: HttpMetrics; token: string }): Promise<void> {
  app.get('/metrics', { preHandler: authenticateBearer(token) }, async (_request, reply) => {
    const { contentType, body } = await metrics.exposition();
    return reply.type(contentType).send(body);
  });
}
