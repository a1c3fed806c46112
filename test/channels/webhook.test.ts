import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { HttpWebhookProvider } from '../../src/channels/webhook.js';
import type { WebhookPayload } from '../../src/domain/messages.js';
import { startHttpSink, type HttpSink, type SinkReply } from '../support/http-sink.js';

const KEY = 'jd1-test-key';

function message(url: string, payload: Partial<WebhookPayload> = {}) {
  return { channel: 'webhook' as const, recipient: url, payload: { method: 'POST' as const, headers: {}, ...payload } };
}

describe('webhook provider', () => {
  const provider = new HttpWebhookProvider({ timeout_ms: 300 });
  const sinks: HttpSink[] = [];
  const sink = async (reply?: (index: number) => SinkReply) => {
    const s = await startHttpSink(reply && ((_, index) => reply(index)));
    sinks.push(s);
    return s;
  };
  after(async () => {
    await provider.close();
    await Promise.all(sinks.map((s) => s.close()));
  });

  it('POSTs the body with the idempotency key, the point’s headers and a JSON content type', async () => {
    const s = await sink();
    const result = await provider.deliver(
      message(`${s.url}/hooks/promo?src=journey`, {
        headers: { 'X-Promo': 'SUMMER25', 'Idempotency-Key': 'not this one' },
        body: '{"code":"SUMMER25"}',
      }),
      KEY,
    );
    assert.deepEqual(result, { outcome: 'ok', responseCode: 200 });
    assert.equal(s.requests.length, 1);
    const [request] = s.requests;
    assert.equal(request!.method, 'POST');
    assert.equal(request!.path, '/hooks/promo?src=journey');
    assert.equal(request!.body, '{"code":"SUMMER25"}');
    assert.equal(request!.headers['idempotency-key'], KEY);
    assert.equal(request!.headers['x-promo'], 'SUMMER25');
    assert.equal(request!.headers['content-type'], 'application/json');
  });

  it('sends text bodies as text, and keeps a content type the point set', async () => {
    const s = await sink();
    await provider.deliver(message(s.url, { body: 'hello' }), KEY);
    await provider.deliver(message(s.url, { body: 'a=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }), KEY);
    assert.equal(s.requests[0]!.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(s.requests[1]!.headers['content-type'], 'application/x-www-form-urlencoded');
  });

  it('sends GET without a body', async () => {
    const s = await sink();
    const result = await provider.deliver(message(`${s.url}/ping`, { method: 'GET', body: 'ignored' }), KEY);
    assert.equal(result.outcome, 'ok');
    assert.equal(s.requests[0]!.method, 'GET');
    assert.equal(s.requests[0]!.body, '');
    assert.equal(s.requests[0]!.headers['content-type'], undefined);
  });

  it('treats 5xx, 408 and 429 as retryable, with Retry-After, and keeps the start of the reply', async () => {
    const replies: SinkReply[] = [
      { status: 503, body: 'down for maintenance' },
      { status: 429, headers: { 'retry-after': '7' } },
      { status: 408 },
    ];
    const s = await sink((index) => replies[index] ?? { status: 200 });
    assert.deepEqual(await provider.deliver(message(s.url), KEY), {
      outcome: 'retryable',
      error: 'HTTP 503: down for maintenance',
      responseCode: 503,
    });
    assert.deepEqual(await provider.deliver(message(s.url), KEY), {
      outcome: 'retryable',
      error: 'HTTP 429',
      responseCode: 429,
      retryAfterMs: 7000,
    });
    assert.equal((await provider.deliver(message(s.url), KEY)).outcome, 'retryable');
  });

  it('treats other 4xx and redirects as permanent', async () => {
    const replies: SinkReply[] = [
      { status: 400, body: '{"error":"unknown user"}' },
      { status: 301, headers: { location: '/x' } },
    ];
    const s = await sink((index) => replies[index] ?? { status: 200 });
    assert.deepEqual(await provider.deliver(message(s.url), KEY), {
      outcome: 'permanent',
      error: 'HTTP 400: {"error":"unknown user"}',
      responseCode: 400,
    });
    assert.deepEqual(await provider.deliver(message(s.url), KEY), { outcome: 'permanent', error: 'HTTP 301', responseCode: 301 });
    assert.equal(s.requests.length, 2);
  });

  it('times out a receiver that does not answer, as retryable', async () => {
    const s = await sink(() => 'hang');
    assert.deepEqual(await provider.deliver(message(s.url), KEY), { outcome: 'retryable', error: 'timed out after 300 ms' });
  });

  it('treats a refused connection as retryable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await provider.deliver(message(`http://127.0.0.1:${port}/`), KEY);
    assert.equal(result.outcome, 'retryable');
    assert.match(result.outcome === 'retryable' ? result.error : '', /ECONNREFUSED/);
  });

  it('refuses URLs that are not http(s) without calling anything', async () => {
    assert.deepEqual(await provider.deliver(message('ftp://127.0.0.1/x'), KEY), {
      outcome: 'permanent',
      error: 'webhook URL must be http or https, got "ftp://127.0.0.1/x"',
    });
    assert.equal((await provider.deliver(message('not a url'), KEY)).outcome, 'permanent');
  });
});
