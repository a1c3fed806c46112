import { Agent, request } from 'undici';
import type { OutboundMessageOf } from '../domain/messages.js';
import type { ChannelProvider, DeliveryResult } from './provider.js';
import type { HttpConfig } from './settings.js';

const DEFAULT_TIMEOUT_MS = 10_000;
/** How much of an error reply is kept in the failure reason. */
const REASON_BODY_BYTES = 512;

/**
 * Calls a webhook over HTTP(S) with undici. The message's idempotency key
 * goes in an `Idempotency-Key` header on every attempt: a crash after the
 * call but before its outcome was recorded makes the dispatcher call again,
 * and the receiver can recognise the repeat.
 *
 * 2xx is delivered. 408, 429 and 5xx, timeouts and network errors are worth
 * retrying (honouring `Retry-After`); any other status, a redirect included,
 * is a permanent failure — repeating the same request would get the same answer.
 */
export class HttpWebhookProvider implements ChannelProvider<'webhook'> {
  readonly name = 'http';
  private readonly timeoutMs: number;
  private readonly agent: Agent;

  constructor(config: HttpConfig) {
    this.timeoutMs = config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    this.agent = new Agent({ connect: { timeout: this.timeoutMs }, keepAliveTimeout: 10_000 });
  }

  async deliver(message: OutboundMessageOf<'webhook'>, idempotencyKey: string): Promise<DeliveryResult> {
    const url = parseHttpUrl(message.recipient);
    if (typeof url === 'string') return { outcome: 'permanent', error: url };
    const { method, body } = message.payload;
    const sendsBody = method === 'POST' && body !== undefined;
    const headers = requestHeaders(message.payload.headers, idempotencyKey, sendsBody ? body : undefined);
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const response = await request(url, {
        method,
        headers,
        body: sendsBody ? body : undefined,
        dispatcher: this.agent,
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const status = response.statusCode;
      if (status >= 200 && status < 300) {
        await response.body.dump();
        return { outcome: 'ok', responseCode: status };
      }
      const error = `HTTP ${status}${describeBody(await readPrefix(response.body, REASON_BODY_BYTES))}`;
      if (status === 408 || status === 429 || status >= 500) {
        const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
        return { outcome: 'retryable', error, responseCode: status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
      }
      return { outcome: 'permanent', error, responseCode: status };
    } catch (failure) {
      if (signal.aborted) return { outcome: 'retryable', error: `timed out after ${this.timeoutMs} ms` };
      return { outcome: 'retryable', error: describeNetworkError(failure) };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function parseHttpUrl(recipient: string): URL | string {
  let url: URL;
  try {
    url = new URL(recipient);
  } catch {
    return `invalid webhook URL "${recipient}"`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `webhook URL must be http or https, got "${recipient}"`;
  return url;
}

/**
 * The point's headers, then ours: `Idempotency-Key` always (a header of that
 * name in the point is replaced), a JSON or text Content-Type when the point
 * set none, and a User-Agent.
 */
function requestHeaders(
  pointHeaders: Readonly<Record<string, string>>,
  idempotencyKey: string,
  body: string | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(pointHeaders)) {
    if (name.toLowerCase() !== 'idempotency-key') headers[name.toLowerCase()] = value;
  }
  headers['idempotency-key'] = idempotencyKey;
  headers['user-agent'] ??= 'journeyd';
  if (body !== undefined) headers['content-type'] ??= isJson(body) ? 'application/json' : 'text/plain; charset=utf-8';
  return headers;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

async function readPrefix(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } catch {
    // The status is what matters; a body cut short is only less detail.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

function describeBody(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  return trimmed === '' ? '' : `: ${trimmed}`;
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now. */
function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function describeNetworkError(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const message = e.cause?.message ?? e.message ?? String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
