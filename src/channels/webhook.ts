import { Agent, errors, request } from 'undici';
import type { OutboundMessageOf } from '../domain/messages.js';
import { truncateUtf8 } from '../domain/text.js';
import type { ChannelProvider, DeliveryResult } from './provider.js';
import type { HttpConfig } from './settings.js';
import { DestinationRefused, guardedLookup, type WebhookDestinations } from './webhook-destinations.js';

const DEFAULT_TIMEOUT_MS = 10_000;
/** The longest failure reason kept (it is stored and shown by the delivery log). */
const REASON_BYTES = 256;

/**
 * Calls a webhook over HTTP(S) with undici. The message's idempotency key
 * goes in an `Idempotency-Key` header on every attempt: a crash after the
 * call but before its outcome was recorded makes the dispatcher call again,
 * and the receiver can recognise the repeat.
 *
 * Only destinations the policy allows are called: the URL's host before
 * anything is sent, and the addresses a host name resolves to before
 * connecting (docs/messages.md#webhook-destinations).
 *
 * 2xx is delivered. 408, 429 and 5xx, timeouts and network errors are worth
 * retrying (honouring `Retry-After`); any other status, a redirect included
 * (redirects are never followed), a refused destination and a request undici
 * cannot send are permanent failures — repeating them would get the same answer.
 * A failure reason never holds the values of the point's headers and is at
 * most REASON_BYTES long.
 */
export class HttpWebhookProvider implements ChannelProvider<'webhook'> {
  readonly name = 'http';
  private readonly timeoutMs: number;
  private readonly agent: Agent;

  constructor(
    config: HttpConfig,
    private readonly destinations: WebhookDestinations,
  ) {
    this.timeoutMs = config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    this.agent = new Agent({
      connect: { timeout: this.timeoutMs, lookup: guardedLookup(destinations) },
      keepAliveTimeout: 10_000,
    });
  }

  async deliver(message: OutboundMessageOf<'webhook'>, idempotencyKey: string): Promise<DeliveryResult> {
    const result = await this.attempt(message, idempotencyKey);
    if (result.outcome === 'ok') return result;
    return { ...result, error: failureReason(result.error, Object.values(message.payload.headers)) };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** One request; error texts are as they came, for `deliver` to bound and redact. */
  private async attempt(message: OutboundMessageOf<'webhook'>, idempotencyKey: string): Promise<DeliveryResult> {
    const url = parseHttpUrl(message.recipient);
    if (typeof url === 'string') return { outcome: 'permanent', error: url };
    const refusal = this.destinations.policy.refusalOfHost(url.hostname);
    if (refusal !== undefined) return { outcome: 'permanent', error: `destination refused: ${refusal}` };
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
      if (status >= 300 && status < 400) {
        await response.body.dump();
        return {
          outcome: 'permanent',
          error: `HTTP ${status}: redirects are not followed${describeLocation(response.headers.location)}`,
          responseCode: status,
        };
      }
      // Read past the kept length by the longest header value, so a value the reply echoes at the cut is still whole to redact.
      const readBytes = REASON_BYTES + Math.max(0, ...Object.values(message.payload.headers).map((v) => Buffer.byteLength(v)));
      const error = `HTTP ${status}${describeBody(await readPrefix(response.body, readBytes))}`;
      if (status === 408 || status === 429 || status >= 500) {
        const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
        return { outcome: 'retryable', error, responseCode: status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
      }
      return { outcome: 'permanent', error, responseCode: status };
    } catch (failure) {
      if (signal.aborted) return { outcome: 'retryable', error: `timed out after ${this.timeoutMs} ms` };
      if (failure instanceof DestinationRefused) return { outcome: 'permanent', error: `destination refused: ${failure.message}` };
      if (failure instanceof errors.InvalidArgumentError) {
        return { outcome: 'permanent', error: `the request cannot be sent: ${failure.message}` };
      }
      return { outcome: 'retryable', error: describeNetworkError(failure) };
    }
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
  return text.trim() === '' ? '' : `: ${text}`;
}

function describeLocation(location: string | string[] | undefined): string {
  const target = Array.isArray(location) ? location[0] : location;
  return target === undefined ? '' : ` (Location: ${target})`;
}

/** The error text with every header value blanked out, on one line, and cut to REASON_BYTES. */
function failureReason(error: string, headerValues: readonly string[]): string {
  // Longest first, so that a value containing a shorter one is blanked whole.
  const secrets = headerValues.filter((value) => value !== '').sort((a, b) => b.length - a.length);
  const redacted = secrets.reduce((text, secret) => text.split(secret).join('[redacted]'), error);
  return truncateUtf8(redacted.trim().replace(/\s+/g, ' '), REASON_BYTES);
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
