import type { FastifyRequest } from 'fastify';
import { findUnstorableText } from '../domain/text.js';
import { badRequest } from './errors.js';

/**
 * A `preValidation` hook for every route: a route parameter, query value or
 * body string (key or value) that no store keeps as sent is a 400 naming
 * where it is, before any route sees it, the same on SQLite and Postgres.
 */
export async function refuseUnstorableText(request: FastifyRequest): Promise<void> {
  const problem =
    findUnstorableText(request.params, 'params') ?? findUnstorableText(request.query, 'query') ?? findUnstorableText(request.body, 'body');
  if (problem) throw badRequest(problem);
}
