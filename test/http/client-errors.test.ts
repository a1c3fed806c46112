import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { startTestApp, TEST_API_TOKEN, type TestContext } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';

interface RawReply {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

/** Writes `request` as it is on a new connection and reads one reply: what no HTTP client would send. */
function rawRequest(port: number, request: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = received.subarray(0, headEnd).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
      const body = received.subarray(headEnd + 4);
      if (body.length < length) return;
      socket.destroy();
      resolve({
        status: Number(head.split(' ')[1]),
        contentType: /\r\ncontent-type: *([^\r]+)/i.exec(head)?.[1],
        body: JSON.parse(body.subarray(0, length).toString('utf8')),
      });
    });
    // The server may reset the connection after its reply while the client still writes.
    socket.on('error', (error) => (received.length > 0 ? undefined : reject(error)));
    socket.write(request);
  });
}

describeEachBackend('client errors have the {code, message} shape', (dialect) => {
  let ctx: TestContext;
  let port: number;
  before(async () => {
    ctx = await startTestApp(dialect);
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    port = (ctx.app.server.address() as AddressInfo).port;
  });
  after(() => ctx.close());

  it('a 100 kB header is a 431 {code, message}', async () => {
    const reply = await rawRequest(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`);
    assert.equal(reply.status, 431);
    assert.match(reply.contentType ?? '', /^application\/json/);
    assert.deepEqual(reply.body, { code: 431, message: 'request header fields are too large' });
  });

  it('a malformed request line is a 400 {code, message}', async () => {
    const reply = await rawRequest(port, 'NOT AN HTTP REQUEST\r\n\r\n');
    assert.equal(reply.status, 400);
    const body = reply.body as { code: number; message: string };
    assert.deepEqual(Object.keys(body).sort(), ['code', 'message']);
    assert.equal(body.code, 400);
    assert.match(body.message, /^malformed HTTP request/);
  });

  it('a malformed URL component is a 400 {code, message}', async () => {
    const reply = await rawRequest(port, 'GET /api/v3/journeygateway/%E0 HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(reply.status, 400);
    assert.deepEqual(reply.body, { code: 400, message: "'/api/v3/journeygateway/%E0' is not a valid url component" });
  });

  it('a route parameter over the router limit is a 414 {code, message}', async () => {
    const reply = await rawRequest(port, `GET /api/v3/journeygateway/${'a'.repeat(500)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(reply.status, 414);
    const body = reply.body as { code: number; message: string };
    assert.deepEqual(Object.keys(body).sort(), ['code', 'message']);
    assert.equal(body.code, 414);
  });

  it('malformed JSON is a 400 {code, message}', async () => {
    const body = '{"title": ';
    const reply = await rawRequest(
      port,
      `POST /api/v3/journeygateway HTTP/1.1\r\nHost: x\r\nAuthorization: Api ${TEST_API_TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    assert.equal(reply.status, 400);
    assert.deepEqual(reply.body, { code: 400, message: "Body is not valid JSON but content-type is set to 'application/json'" });
  });

  it('a body over the limit is a 413 {code, message}', async () => {
    const reply = await rawRequest(
      port,
      `POST /api/v3/journeygateway HTTP/1.1\r\nHost: x\r\nAuthorization: Api ${TEST_API_TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${9 * 1024 * 1024}\r\n\r\n{`,
    );
    assert.equal(reply.status, 413);
    assert.deepEqual(reply.body, { code: 413, message: 'Request body is too large' });
  });

  it('an unsupported media type is a 415 {code, message}', async () => {
    const reply = await rawRequest(
      port,
      `POST /api/v3/journeygateway HTTP/1.1\r\nHost: x\r\nAuthorization: Api ${TEST_API_TOKEN}\r\n` +
        'Content-Type: application/xml\r\nContent-Length: 4\r\n\r\n<a/>',
    );
    assert.equal(reply.status, 415);
    assert.deepEqual(reply.body, { code: 415, message: 'Unsupported Media Type' });
  });

  it('a method no route serves is a 404 {code, message}', async () => {
    const reply = await rawRequest(port, 'PATCH /api/v3/journeygateway/x HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(reply.status, 404);
    assert.deepEqual(reply.body, { code: 404, message: 'no route for PATCH /api/v3/journeygateway/x' });
  });
});
