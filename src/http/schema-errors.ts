import type { FastifySchemaValidationError } from 'fastify';

/**
 * The message of a request that fails its route's schema: fastify's own
 * (`body/points/0/point_type must be …`, several joined by ", "), except that
 * an enum names the values it allows, so a client can fix the request
 * without the docs.
 */
export function formatApiSchemaErrors(errors: readonly FastifySchemaValidationError[], dataVar: string): Error {
  return new Error(errors.map((error) => `${dataVar}${error.instancePath || ''} ${describe(error)}`).join(', '));
}

function describe(error: FastifySchemaValidationError): string {
  const message = error.message ?? 'is invalid';
  const allowed = error.params.allowedValues;
  return error.keyword === 'enum' && Array.isArray(allowed) ? `${message}: ${allowedValuesText(allowed)}` : message;
}

/** An enum's values as a client writes them: `"a", "b", 3`. */
export function allowedValuesText(values: readonly unknown[]): string {
  return values.map((value) => JSON.stringify(value)).join(', ');
}
