/**
 * `items` in lists of at most `size`, in order: keeps an IN list or a
 * multi-row INSERT under the dialects' parameter limits.
 */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let from = 0; from < items.length; from += size) out.push(items.slice(from, from + size));
  return out;
}
