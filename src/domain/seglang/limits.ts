/**
 * How much one filter may ask of the store, checked while parsing so that every
 * caller refuses the same filters. Every filter within these compiles and runs
 * on both backends; the figures behind them are in docs/seglang.md ("Limits").
 */
export const SEGLANG_LIMITS = {
  /** Characters (UTF-16 code units) of the filter's text. */
  length: 65_536,
  /** Parentheses nested inside one another. */
  depth: 20,
  /** A(...), T(...), AT(...) and chained `.tags(..)` steps: each is one scan of an index. */
  setTerms: 20,
  /** Values in all the lists (`in`, `notin`, `between`, platforms) of a filter together. */
  listValues: 1_000,
  /** `daysago` N, either way: 100 years. */
  daysAgo: 36_500,
} as const;
