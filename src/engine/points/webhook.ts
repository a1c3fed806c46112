import { DEFAULT_OUTPUT, type PointOf } from '../../domain/journey.js';
import type { WebhookPayload } from '../../domain/messages.js';
import { renderStrings, renderTemplate, TemplateError } from '../../domain/templates.js';
import { renderWebhookUrl } from '../../domain/webhook-url.js';
import type { BatchMessage } from '../../store/runs/index.js';
import { BatchScopes } from './render.js';
import { allLeave, type PointContext, type PreparedPoint } from './types.js';

/**
 * WEBHOOK: one request per run, its url, header values and body rendered
 * for the run; the dispatcher delivers it. Silent hours do not apply (it is
 * not a message to the user's devices).
 */
export function prepareWebhook(_context: PointContext, point: PointOf<'POINT_TYPE_WEBHOOK'>): PreparedPoint {
  const { url, method, headers, body } = point.point_data.webhook;
  return {
    async execute(runs, { now, access }) {
      const scopes = await BatchScopes.load(runs, access, [url, headers, body]);
      const items: BatchMessage[] = [];
      let failed = 0;
      for (const run of runs) {
        try {
          const scope = scopes.scope(run);
          const payload: WebhookPayload = {
            method,
            headers: headers === undefined ? {} : renderStrings(headers, scope),
            ...(method === 'POST' && body !== undefined ? { body: renderTemplate(body, scope) } : {}),
          };
          items.push({ runId: run.id, userId: run.userId, hwid: null, recipient: renderWebhookUrl(url, scope), payload, deliverAt: now });
        } catch (error) {
          if (!(error instanceof TemplateError)) throw error;
          failed++;
        }
      }
      return { decisions: allLeave(runs, DEFAULT_OUTPUT), messages: { channel: 'webhook', items }, failed };
    },
  };
}
