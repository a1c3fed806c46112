/**
 * Text no store keeps as it was sent: Postgres refuses NUL in `text` and `jsonb`, and a lone
 * UTF-16 surrogate has no UTF-8 form (both stores would keep U+FFFD, merging distinct values).
 * Every string from outside is checked with this one rule, on both backends alike.
 */
export function unstorableTextProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(value)) return 'contains a lone UTF-16 surrogate';
  return undefined;
}

/** With the `u` flag a paired surrogate is one code point, so only an unpaired one is of category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

const ELLIPSIS = '…';

/** `text` cut to at most `maxBytes` bytes of UTF-8 at a character boundary, ending in "…" when it was cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  // A streaming decode leaves out a character whose bytes the cut split.
  const kept = new TextDecoder().decode(bytes.subarray(0, maxBytes - Buffer.byteLength(ELLIPSIS)), { stream: true });
  return kept + ELLIPSIS;
}
