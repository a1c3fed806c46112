import { DEFAULT_OUTPUT, type PointOf } from '../../domain/journey.js';
import { WEBHOOK_BODY_LIMIT, WEBHOOK_HEADERS_LIMIT, WEBHOOK_URL_LIMIT, type MessageTemplates } from '../../domain/message-templates.js';
import type { WebhookPayload } from '../../domain/messages.js';
import { renderedWebhookUrlCheck } from '../../domain/webhook-url.js';
import type { BatchMessage, UnrenderedMessage } from '../../store/runs/index.js';
import { BatchScopes } from './render.js';
import { allLeave, type PointContext, type PreparedPoint } from './types.js';

interface RenderedWebhook {
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * WEBHOOK: one request per run, its url, header values and body rendered
 * for the run; the dispatcher delivers it. Silent hours do not apply (it is
 * not a message to the user's devices). A request that cannot be rendered
 * (a part over its limit, out of time) fails with the reason.
 */
export function prepareWebhook({ renderer }: PointContext, point: PointOf<'POINT_TYPE_WEBHOOK'>): PreparedPoint {
  const { url, method, headers, body } = point.point_data.webhook;
  const templates: MessageTemplates<RenderedWebhook> = {
    url: { template: url, limit: WEBHOOK_URL_LIMIT },
    headers: { template: headers ?? {}, limit: WEBHOOK_HEADERS_LIMIT },
    ...(method === 'POST' && body !== undefined ? { body: { template: body, limit: WEBHOOK_BODY_LIMIT } } : {}),
  };
  const renderedUrlProblem = renderedWebhookUrlCheck(url);
  return {
    async execute(runs, { now, access }) {
      const scopes = await BatchScopes.load(runs, access, templates);
      const rendered = await renderer.render(
        templates,
        runs.map((run) => scopes.scope(run)),
      );
      const items: BatchMessage[] = [];
      const unrendered: UnrenderedMessage[] = [];
      runs.forEach((run, index) => {
        const outcome = rendered[index] as (typeof rendered)[number];
        if (!outcome.ok) {
          // Nothing was rendered, the URL included: the log names the point's URL template.
          unrendered.push({ runId: run.id, userId: run.userId, hwid: null, recipient: url, reason: outcome.reason });
          return;
        }
        const request = outcome.message;
        const urlProblem = renderedUrlProblem(request.url);
        if (urlProblem) {
          unrendered.push({ runId: run.id, userId: run.userId, hwid: null, recipient: url, reason: urlProblem });
          return;
        }
        const payload: WebhookPayload = {
          method,
          headers: request.headers,
          ...(request.body === undefined ? {} : { body: request.body }),
        };
        // The recipient is the URL as rendered for the run.
        items.push({ runId: run.id, userId: run.userId, hwid: null, recipient: request.url, payload, deliverAt: now });
      });
      return { decisions: allLeave(runs, DEFAULT_OUTPUT), messages: { channel: 'webhook', items, unrendered } };
    },
  };
}
