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

/**
 * The first string key or value in a JSON-like value (parsed JSON, a query
 * string, route parameters) that breaks `unstorableTextProblem`, named by its
 * path under `root`, e.g. `body.payload.users[0] contains a NUL character`.
 * Walks with an explicit stack, so no nesting depth can overflow the call stack.
 */
export function findUnstorableText(value: unknown, root: string): string | undefined {
  const pending: Located[] = [{ value, path: { name: root } }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: current, path } = next;
    if (typeof current === 'string') {
      const problem = unstorableTextProblem(current);
      if (problem) return `${pathText(path)} ${problem}`;
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) pending.push({ value: current[index], path: { parent: path, index } });
    } else if (typeof current === 'object' && current !== null) {
      const entries = Object.entries(current);
      for (const [key] of entries) {
        const problem = unstorableTextProblem(key);
        if (problem) return `${pathText(path)} has a key ${JSON.stringify(key)} that ${problem}`;
      }
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i] as [string, unknown];
        pending.push({ value: item, path: { parent: path, key } });
      }
    }
  }
  return undefined;
}

type PathStep =
  { readonly name: string } | { readonly parent: PathStep; readonly key: string } | { readonly parent: PathStep; readonly index: number };

interface Located {
  readonly value: unknown;
  readonly path: PathStep;
}

const PLAIN_KEY = /^[A-Za-z_$][\w$]*$/;

/** `body.payload.users[0]`, `body.request.tags["a b"]`: built only for the value at fault. */
function pathText(step: PathStep): string {
  const parts: string[] = [];
  for (let at: PathStep | undefined = step; at !== undefined; at = 'parent' in at ? at.parent : undefined) {
    if ('name' in at) parts.push(at.name);
    else if ('index' in at) parts.push(`[${at.index}]`);
    else parts.push(PLAIN_KEY.test(at.key) ? `.${at.key}` : `[${JSON.stringify(at.key)}]`);
  }
  return parts.reverse().join('');
}

const ELLIPSIS = '…';

/** `text` cut to at most `maxBytes` bytes of UTF-8 at a character boundary, ending in "…" when it was cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  // A streaming decode leaves out a character whose bytes the cut split.
  const kept = new TextDecoder().decode(bytes.subarray(0, maxBytes - Buffer.byteLength(ELLIPSIS)), { stream: true });
  return kept + ELLIPSIS;
}
