/**
 * `npm run bench [suite ...]`: runs each benchmark suite in its own Node
 * process (so each reports its own peak RSS) and prints its figures.
 * A suite is a file in bench/suites/ that prints its results and exits.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const suitesDir = fileURLToPath(new URL('./suites/', import.meta.url));
const available = readdirSync(suitesDir)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}

let failed = 0;
for (const suite of requested.length > 0 ? requested : available) {
  console.log(`\n=== ${suite} ===`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', `${suitesDir}${suite}.ts`], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.error(`suite ${suite} failed (exit ${result.status ?? result.signal})`);
  }
}
process.exit(failed > 0 ? 1 : 0);
