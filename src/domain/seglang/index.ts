/** Seglang (docs/seglang.md): parse an expression into a typed tree; the store compiles it to SQL. */
export type * from './ast.js';
export { OPERATORS, DAYS_AGO_COMPARISONS } from './ast.js';
export { SeglangError } from './errors.js';
export { parseSeglang } from './parser.js';
export { PLATFORM_DEVICE_TYPES, deviceTypeOfPlatform } from './platforms.js';
