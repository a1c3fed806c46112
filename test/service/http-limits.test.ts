import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import type { HttpLimits } from '../../src/config.js';
import { serve, type RunningService } from '../../src/service/serve.js';
import { TEST_API_TOKEN } from '../support/app.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';
import { serviceConfig } from '../support/service-config.js';

/** A raw TCP connection to a server, recording what it receives until it closes. */
interface RawConnection {
  readonly socket: Socket;
  received(): string;
  /** Resolves once the server has closed the connection (or reset it). */
  readonly closed: Promise<void>;
}

async function open(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  // A reset or a write after the server closed: the connection is closed either way.
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => received, closed };
}

/** Sends `GET path` on a kept-alive connection and resolves with the status of its complete reply. */
async function get(connection: RawConnection, path: string): Promise<number> {
  const from = connection.received().length;
  connection.socket.write(`GET ${path} HTTP/1.1\r\nHost: journeyd\r\n\r\n`);
  for (;;) {
    const reply = connection.received().slice(from);
    const head = /^HTTP\/1\.1 (\d{3}) [^]*?\r\ncontent-length: (\d+)\r\n[^]*?\r\n\r\n/i.exec(reply);
    if (head && reply.length >= head[0].length + Number(head[2])) return Number(head[1]);
    await Promise.race([new Promise((resolve) => connection.socket.once('data', resolve)), connection.closed]);
    if (connection.socket.destroyed) throw new Error(`closed before a complete reply to GET ${path}: ${JSON.stringify(reply)}`);
  }
}

describeEachBackend('HTTP limits of the API server', (dialect) => {
  const databases: TestDatabase[] = [];
  const services: RunningService[] = [];

  async function start(limits: Partial<HttpLimits>): Promise<string> {
    const database = await createTestDatabase(dialect);
    databases.push(database);
    const config = serviceConfig(database);
    const service = await serve({ ...config, http: { ...config.http, ...limits } }, 'api');
    services.push(service);
    return service.url as string;
  }

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all(databases.map((d) => d.drop()));
  });

  let url: string;
  before(async () => {
    url = await start({ requestTimeoutMs: 2_000, headersTimeoutMs: 1_000 });
  });

  it(
    'answers a body trickled 1 byte every 2 s with 408 and closes the connection, long before the body is in',
    { timeout: 60_000 },
    async () => {
      const body = JSON.stringify({ request: { application: 'TEST0-00001', hwid: 'slow', push_token: 'x' } });
      const connection = await open(url);
      connection.socket.write(
        `POST /json/1.3/registerDevice HTTP/1.1\r\nHost: journeyd\r\nAuthorization: Api ${TEST_API_TOKEN}\r\n` +
          `Content-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`,
      );
      let sent = 0;
      const trickle = setInterval(() => connection.socket.write(body.charAt(sent++)), 2_000);
      await connection.closed;
      clearInterval(trickle);

      const [head, reply] = connection.received().split('\r\n\r\n');
      assert.match(head ?? '', /^HTTP\/1\.1 408 /, connection.received());
      assert.deepEqual(JSON.parse(reply ?? ''), { code: 408, message: 'request timed out' });
      assert.ok(sent < body.length, `${sent} of ${body.length} bytes were sent before the cut`);
    },
  );

  it('closes connections beyond JOURNEYD_HTTP_MAX_CONNECTIONS at once and serves those under it', async () => {
    const capped = await start({ maxConnections: 2 });
    const first = await open(capped);
    const second = await open(capped);
    assert.equal(await get(first, '/healthz'), 200);
    assert.equal(await get(second, '/healthz'), 200);

    const third = await open(capped);
    third.socket.write('GET /healthz HTTP/1.1\r\nHost: journeyd\r\nConnection: close\r\n\r\n');
    await third.closed;
    assert.equal(third.received(), '', 'the connection over the cap is closed unanswered');

    assert.equal(await get(first, '/healthz'), 200);
    assert.equal(await get(second, '/healthz'), 200);
    first.socket.destroy();
    second.socket.destroy();
  });
});
