import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveWithSystem, type WebhookDestinations } from '../../src/channels/webhook-destinations.js';
import { WebhookDestinationPolicy } from '../../src/domain/webhook-destination.js';

/**
 * JOURNEYD_WEBHOOK_ALLOW for a process whose webhooks go to sinks: they listen
 * on loopback, which the default destination policy refuses.
 */
export const SINK_ALLOW_LIST = '127.0.0.1/32';

/** The destination policy of SINK_ALLOW_LIST, for a journey start check that must accept a sink's URL. */
export const SINK_WEBHOOK_POLICY = allowListPolicy(SINK_ALLOW_LIST);

/** Webhook destinations a dispatcher delivers to sinks with. */
export const SINK_WEBHOOK_DESTINATIONS: WebhookDestinations = { policy: SINK_WEBHOOK_POLICY, resolve: resolveWithSystem };

export function allowListPolicy(allowList: string): WebhookDestinationPolicy {
  const policy = WebhookDestinationPolicy.fromAllowList(allowList);
  if (!policy.ok) throw new Error(policy.error);
  return policy.value;
}

/** A request the sink received. */
export interface SinkRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** How the sink answers one request: a status (with optional body, headers and delay), or `hang` to never answer. */
export type SinkReply = { status: number; body?: string; headers?: Record<string, string>; delayMs?: number } | 'hang';

export interface HttpSink {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly requests: readonly SinkRequest[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server on an ephemeral port that records every request and
 * answers with `respond(request, index)` (index counts from 0; default 200).
 * Hanging requests are cut when the sink closes.
 */
export async function startHttpSink(
  respond: (request: SinkRequest, index: number) => SinkReply = () => ({ status: 200 }),
): Promise<HttpSink> {
  const requests: SinkRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: SinkRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const index = requests.push(request) - 1;
      const reply = respond(request, index);
      if (reply === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      const answer = () => {
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body ?? '');
      };
      if (reply.delayMs === undefined) answer();
      else setTimeout(answer, reply.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
