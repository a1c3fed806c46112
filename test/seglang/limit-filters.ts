/** Builders of seglang text for the cost-limit tests: long unions, chains, lists and nesting. */

/** `term(0) + term(1) + ...`: `count` set terms. */
export function unionOfTerms(count: number, term: (index: number) => string): string {
  return Array.from({ length: count }, (_, index) => term(index)).join(' + ');
}

/** `head` followed by `count` chained steps such as `.tags("a").eq(1)`. */
export function chainOfSteps(head: string, count: number, step: (index: number) => string): string {
  return head + Array.from({ length: count }, (_, index) => step(index)).join('');
}

/** `[value(0), value(1), ...]`. */
export function listOfValues(count: number, value: (index: number) => string | number): string {
  return `[${Array.from({ length: count }, (_, index) => value(index)).join(', ')}]`;
}

/** `inner` inside `depth` pairs of parentheses. */
export function parenthesized(depth: number, inner: string): string {
  return '('.repeat(depth) + inner + ')'.repeat(depth);
}
