import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { HttpWebhookProvider } from '../../src/channels/webhook.js';
import type { WebhookPayload } from '../../src/domain/messages.js';
import { SINK_WEBHOOK_DESTINATIONS, startHttpSink, type HttpSink, type SinkReply } from '../support/http-sink.js';

const KEY = 'jd1-test-key';

function message(url: string, payload: Partial<WebhookPayload> = {}) {
  return { channel: 'webhook' as const, recipient: url, payload: { method: 'POST' as const, headers: {}, ...payload } };
}

describe('webhook provider', () => {
  const provider = new HttpWebhookProvider({ timeout_ms: 300 }, SINK_WEBHOOK_DESTINATIONS);
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

  it('treats other 4xx as permanent', async () => {
    const s = await sink(() => ({ status: 400, body: '{"error":"unknown user"}' }));
    assert.deepEqual(await provider.deliver(message(s.url), KEY), {
      outcome: 'permanent',
      error: 'HTTP 400: {"error":"unknown user"}',
      responseCode: 400,
    });
  });

  it('never follows a redirect: the message fails for good, naming where it pointed', async () => {
    const target = await sink();
    const redirecting = await sink(() => ({ status: 302, headers: { location: `${target.url}/elsewhere` } }));
    assert.deepEqual(await provider.deliver(message(`${redirecting.url}/hook`), KEY), {
      outcome: 'permanent',
      error: `HTTP 302: redirects are not followed (Location: ${target.url}/elsewhere)`,
      responseCode: 302,
    });
    assert.equal(redirecting.requests.length, 1);
    assert.equal(target.requests.length, 0);
  });

  it('keeps at most 256 bytes of a failure, without the values of the point’s headers', async () => {
    const token = `tok-${'s3cr3t'.repeat(15)}`;
    const s = await sink((index) => ({
      status: index === 0 ? 400 : 503,
      // The second reply's echo of the token runs past the 256th byte of its body.
      body: index === 0 ? `you sent Authorization: Bearer ${token}; ${'é'.repeat(1000)}` : `${'x'.repeat(200)} ${token} ${'x'.repeat(100)}`,
    }));
    const headers = { Authorization: `Bearer ${token}`, 'X-Token': token };
    for (const expectedStart of ['HTTP 400: you sent Authorization: [redacted]; éé', `HTTP 503: ${'x'.repeat(200)} [redacted] xx`]) {
      const result = await provider.deliver(message(s.url, { headers }), KEY);
      const error = result.outcome === 'ok' ? '' : result.error;
      assert.ok(error.startsWith(expectedStart), error);
      assert.ok(Buffer.byteLength(error) <= 256, `${Buffer.byteLength(error)} bytes`);
      assert.ok(error.endsWith('…'), error);
      assert.ok(!error.includes('s3cr3t'), error);
    }
  });

  it('fails a request undici refuses to send (a header value with a line break) for good, without calling', async () => {
    const s = await sink();
    assert.deepEqual(await provider.deliver(message(s.url, { headers: { 'X-User': 'ann\r\nX-Admin: yes' } }), KEY), {
      outcome: 'permanent',
      error: 'the request cannot be sent: invalid x-user header',
    });
    assert.equal(s.requests.length, 0);
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
