import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { APPLICATION_CODE_PATTERN } from '../../domain/codes.js';
import { InvalidTagError } from '../../domain/tags.js';
import { describeError, HttpError } from '../errors.js';
import { allowedValuesText } from '../schema-errors.js';

/** Pushwoosh's `status_code` for a request with a missing or invalid argument. */
export const ARGUMENT_ERROR = 210;

/** A successful Device API reply. */
export interface OkEnvelope<T> {
  status_code: 200;
  status_message: 'OK';
  response: T;
}

/**
 * Every Device API error reply. `status_code`/`status_message` are Pushwoosh's
 * envelope; `code`/`message` repeat them so the reply also has the shape every
 * journeyd error has (docs/http-api.md).
 */
export interface ErrorEnvelope {
  status_code: number;
  status_message: string;
  response: null;
  code: number;
  message: string;
}

/** The OpenAPI shapes of the two envelopes. */
export const OkEnvelopeSchema = Type.Object(
  {
    status_code: Type.Literal(200),
    status_message: Type.Literal('OK'),
    response: Type.Unknown({ description: "the method's answer, null for most" }),
  },
  { title: 'DeviceApiOk' },
);
export const ErrorEnvelopeSchema = Type.Object(
  {
    status_code: Type.Integer({ description: '210 for an invalid argument, else the HTTP status' }),
    status_message: Type.String(),
    response: Type.Null(),
    code: Type.Integer(),
    message: Type.String(),
  },
  { title: 'DeviceApiError' },
);

export function okEnvelope<T>(response: T): OkEnvelope<T> {
  return { status_code: 200, status_message: 'OK', response };
}

/**
 * The route error handler of every Device API method. HTTP 400 becomes
 * `status_code` 210; any other status (401, 413, 415, 500) is repeated as the
 * `status_code`. Invalid tags found by the store are bad requests.
 */
export function replyWithErrorEnvelope(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const cause = error instanceof InvalidTagError ? new HttpError(400, error.message) : error;
  const { code: httpStatus, message, headers } = describeError(cause);
  if (httpStatus >= 500) request.log.error({ err: error }, 'device API request failed');
  const statusCode = httpStatus === 400 ? ARGUMENT_ERROR : httpStatus;
  const body: ErrorEnvelope = { status_code: statusCode, status_message: message, response: null, code: statusCode, message };
  void reply.code(httpStatus).headers(headers).send(body);
}

/**
 * Turns the first schema violation into a 400 whose message names the field
 * by its path in the body, e.g. `request.timezone must be <= 50400`.
 */
export function formatSchemaErrors(errors: FastifySchemaValidationError[]): Error {
  const first = errors[0];
  return new HttpError(400, first ? describeViolation(first) : 'invalid request body');
}

function describeViolation(error: FastifySchemaValidationError): string {
  const path = error.instancePath.split('/').slice(1).map(unescapePointer).join('.');
  const field = path === '' ? 'body' : path;
  const params = error.params;
  switch (error.keyword) {
    case 'required':
      return `${path === '' ? '' : `${path}.`}${String(params.missingProperty)} is required`;
    case 'type':
      return path === '' ? 'body must be a JSON object {"request": {...}}' : `${field} must be ${withArticle(String(params.type))}`;
    case 'enum':
      return `${field} must be one of ${allowedValuesText(params.allowedValues as unknown[])}`;
    case 'minimum':
    case 'maximum':
      return `${field} must be ${String(params.comparison)} ${String(params.limit)}`;
    case 'minLength':
      return params.limit === 1 ? `${field} must not be empty` : `${field} must be at least ${String(params.limit)} characters`;
    case 'maxLength':
      return `${field} must be at most ${String(params.limit)} characters`;
    case 'pattern':
      return params.pattern === APPLICATION_CODE_PATTERN.source
        ? `${field} must be an application code XXXXX-XXXXX (upper-case letters or digits)`
        : `${field} must match ${String(params.pattern)}`;
    default:
      return `${field} ${error.message ?? 'is invalid'}`;
  }
}

function withArticle(type: string): string {
  return type
    .split(',')
    .map((t) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`))
    .join(' or ');
}

/** JSON Pointer escapes (RFC 6901) in tag names such as "a/b". */
function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
