import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { hashToken, type TokenGrant } from '../store/applications/index.js';
import type { Store } from '../store/store.js';
import { HttpError } from './errors.js';

/** `Api <server_api_token>` or `Token <device_api_token>` (docs/http-api.md). */
export type AuthScheme = 'Api' | 'Token';

const KIND_BY_SCHEME = { Api: 'api', Token: 'device' } as const;

declare module 'fastify' {
  interface FastifyRequest {
    grant: TokenGrant | null;
  }
}

/**
 * A preHandler that authenticates the Authorization header with one of the
 * accepted schemes and sets `request.grant`; anything else is a 401.
 */
export function authenticate(store: Store, accepted: readonly AuthScheme[]) {
  return async function authenticateRequest(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization;
    if (!header) throw new HttpError(401, `missing Authorization header (expected ${describe(accepted)})`);
    const match = /^(\w+)\s+(\S+)\s*$/.exec(header);
    const scheme = match?.[1] as AuthScheme | undefined;
    if (!match || !scheme || !accepted.includes(scheme)) {
      throw new HttpError(401, `malformed Authorization header (expected ${describe(accepted)})`);
    }
    const grant = await store.applications.authenticate(match[2] as string);
    if (!grant || grant.kind !== KIND_BY_SCHEME[scheme]) throw new HttpError(401, 'unknown token');
    request.grant = grant;
  };
}

/** A preHandler that lets through `Authorization: Bearer <secret>` alone, comparing in constant time; anything else is a 401. */
export function authenticateBearer(secret: string) {
  const expected = Buffer.from(hashToken(secret));
  return async function authenticateBearerRequest(request: FastifyRequest): Promise<void> {
    const match = /^Bearer\s+(\S+)\s*$/.exec(request.headers.authorization ?? '');
    if (!match || !timingSafeEqual(Buffer.from(hashToken(match[1] as string)), expected)) {
      throw new HttpError(401, 'missing or wrong "Authorization: Bearer <token>"', { 'www-authenticate': 'Bearer' });
    }
  };
}

/** The grant set by `authenticate`; calling it on an unauthenticated route is a programming error. */
export function grantOf(request: FastifyRequest): TokenGrant {
  if (!request.grant) throw new Error(`route ${request.routeOptions.url} reads the grant without authenticate()`);
  return request.grant;
}

function describe(accepted: readonly AuthScheme[]): string {
  return accepted.map((s) => `"${s} <token>"`).join(' or ');
}
