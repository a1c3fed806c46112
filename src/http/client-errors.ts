import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorBody } from './errors.js';

/**
 * Fastify's `clientErrorHandler`: requests Node's HTTP parser refuses before
 * any route runs (a header block over the limit, a malformed request line, a
 * request that timed out) are answered in the `{code, message}` shape of every
 * journeyd error, and the connection is closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const reply = describeClientError(error.code);
    const body = JSON.stringify(reply);
    socket.write(
      `HTTP/1.1 ${reply.code} ${STATUS_CODES[reply.code]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function describeClientError(code: string | undefined): ErrorBody {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { code: 431, message: 'request header fields are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 408, message: 'request timed out' };
    default:
      return { code: 400, message: code === undefined ? 'malformed HTTP request' : `malformed HTTP request (${code})` };
  }
}
