import type { FastifyBodyParser } from 'fastify';
import type { App } from './app.js';
import { badRequest } from './errors.js';

/** No journeyd body needs more; deeper values would overflow recursive code downstream (docs/http-api.md). */
export const MAX_JSON_DEPTH = 64;

/**
 * The JSON body parser of every route: fastify's own (its prototype-poisoning
 * checks included), behind a depth limit checked on the text before parsing.
 */
export function jsonBodyParser(app: App): FastifyBodyParser<string> {
  const parse = app.getDefaultJsonParser('error', 'error');
  return (request, text, done) => {
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      done(badRequest(`body is JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
      return;
    }
    void parse(request, text, done);
  };
}

const BACKSLASH = 0x5c;

/**
 * Counts brackets outside strings in one pass over the text, so no nesting,
 * valid or not, is ever recursed into; malformed text is left to the parser.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  // What opens or closes a level or a string; the regex engine skips everything else.
  const structural = /["[\]{}]/g;
  let depth = 0;
  for (let match = structural.exec(text); match !== null; match = structural.exec(text)) {
    const c = match[0];
    if (c === '"') {
      const end = closingQuote(text, match.index);
      if (end < 0) return false;
      structural.lastIndex = end + 1;
    } else if (c === '[' || c === '{') {
      if (++depth > limit) return true;
    } else depth--;
  }
  return false;
}

/** The index of the quote that closes the string opened at `open`, or -1. */
function closingQuote(text: string, open: number): number {
  let at = text.indexOf('"', open + 1);
  while (at !== -1 && isEscaped(text, at)) at = text.indexOf('"', at + 1);
  return at;
}

/** Whether an odd number of backslashes precedes `at`. */
function isEscaped(text: string, at: number): boolean {
  let start = at;
  while (text.charCodeAt(start - 1) === BACKSLASH) start--;
  return (at - start) % 2 === 1;
}
