/**
 * Every problem with a seglang expression, syntactic or semantic. `position`
 * is the 1-based character (code point) where the problem is, when it has one;
 * syntax errors also name it in the message ("... at position 27").
 */
export class SeglangError extends Error {
  constructor(
    message: string,
    readonly position?: number,
  ) {
    super(message);
    this.name = 'SeglangError';
  }
}

/** A syntax error: `invalid filter: <what> at position <n>`. */
export function syntaxError(what: string, position: number): SeglangError {
  return new SeglangError(`invalid filter: ${what} at position ${position}`, position);
}
