/**
 * The layering of src/ as the imports must run (docs/architecture.md):
 *
 *   cli -> service -> { http, engine -> channels } -> store -> domain
 *
 * Top-level modules (src/logger.ts, src/config.ts, …) may be imported by any
 * layer, so they import none. Type-only imports count: a type cycle is still a
 * cycle to read through, and a type the domain borrows from the store is a
 * dependency of the domain on the store.
 */
const layer = (name) => `^src/${name}/`;
const anyOf = (...names) => `^src/(${names.join('|')})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: the modules cannot be read, tested or moved one at a time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'The domain holds the rules and owns its types; it imports no layer above it.',
      from: { path: layer('domain') },
      to: { path: anyOf('store', 'engine', 'http', 'channels', 'service', 'cli') },
    },
    {
      name: 'store-below-the-workers',
      severity: 'error',
      comment: 'The store answers to the domain only; engine, http and channels call it, never the reverse.',
      from: { path: layer('store') },
      to: { path: anyOf('engine', 'http', 'channels', 'service', 'cli') },
    },
    {
      name: 'channels-below-the-engine',
      severity: 'error',
      comment: 'Channels deliver what the engine hands them; they know nothing of the engine or HTTP.',
      from: { path: layer('channels') },
      to: { path: anyOf('engine', 'http', 'service', 'cli') },
    },
    {
      name: 'http-not-engine',
      severity: 'error',
      comment: 'HTTP and the engine are siblings: they meet in the store, and service wires them together.',
      from: { path: layer('http') },
      to: { path: anyOf('engine', 'service', 'cli') },
    },
    {
      name: 'engine-not-http',
      severity: 'error',
      comment: 'HTTP and the engine are siblings: they meet in the store, and service wires them together.',
      from: { path: layer('engine') },
      to: { path: anyOf('http', 'service', 'cli') },
    },
    {
      name: 'service-below-cli',
      severity: 'error',
      comment: 'The cli is the top: service wires the process and is started by the cli.',
      from: { path: layer('service') },
      to: { path: layer('cli') },
    },
    {
      name: 'shared-modules-import-no-layer',
      severity: 'error',
      comment: 'Top-level src/*.ts modules are imported by every layer, so they may import none of them.',
      from: { path: '^src/[^/]+\\.ts$' },
      to: { path: '^src/[^/]+/' },
    },
    {
      name: 'src-not-tests',
      severity: 'error',
      comment: 'The shipped code never depends on tests or benchmarks.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'src-not-dev-dependencies',
      severity: 'error',
      comment: 'A devDependency is not installed in production; src/ may use it for types only.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to no file.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
