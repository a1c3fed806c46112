/**
 * The outcome of a check or a compilation that can fail: the value, or why
 * not. Narrow on `ok`. The failure is a message for the caller to show, unless
 * `E` says otherwise.
 */
export type Result<T, E = string> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function err<E>(error: E): { readonly ok: false; readonly error: E } {
  return { ok: false, error };
}
