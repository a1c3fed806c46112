import type { FastifyError } from 'fastify';

/** An error whose status and message go to the client as they are. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    // A 4xx is an answer, not a fault: nothing logs its stack, and capturing one cost more than the rest of a refusal.
    const stackTraceLimit = Error.stackTraceLimit;
    if (statusCode < 500) Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);

/** Every error reply, whatever its source: `{"code", "message"}` with the HTTP status. */
export interface ErrorBody {
  code: number;
  message: string;
}

/** Maps any thrown error to a status and a message a client can act on; never leaks internals on 5xx. */
export function describeError(error: unknown): ErrorBody & { headers: Record<string, string> } {
  if (error instanceof HttpError) return { code: error.statusCode, message: error.message, headers: { ...error.headers } };
  const e = error as Partial<FastifyError>;
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { code: e.statusCode, message: e.message ?? 'bad request', headers: {} };
  }
  return { code: 500, message: 'internal error', headers: {} };
}
