import { existsSync } from 'node:fs';
import { readConfig } from '../config.js';
import { describeDatabase, sqliteFileOf } from '../store/database-url.js';
import { Store } from '../store/store.js';

/** Bad arguments: the CLI prints the message and its usage and exits 2. */
export class UsageError extends Error {}

/**
 * Whether a command may set up a new database (`migrate`), or needs one that
 * journeyd has set up already (every command that reads or changes data: run
 * from the wrong directory, it would otherwise create an empty database and
 * then report that nothing is in it).
 */
export type DatabaseUse = 'create' | 'existing';

/**
 * Opens and migrates the store of `databaseUrl` for a command (returning the
 * migrations it applied), and says on stderr which database it opened (stdout
 * stays the command's answer). With
 * `existing`, a SQLite file that does not exist, or a database without
 * journeyd's schema, is an error naming the place looked at.
 */
export async function openCommandStore(
  databaseUrl: string,
  use: DatabaseUse,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<{ store: Store; applied: string[] }> {
  const where = describeDatabase(databaseUrl);
  const file = sqliteFileOf(databaseUrl);
  if (use === 'existing' && file !== undefined && !existsSync(file)) throw new Error(missingDatabase(where, 'does not exist'));
  const store = Store.open(databaseUrl);
  try {
    if (use === 'existing' && !(await store.hasSchema())) throw new Error(missingDatabase(where, 'has no journeyd schema'));
    const applied = await store.migrate();
    stderr.write(`journeyd: database ${where}\n`);
    return { store, applied };
  } catch (error) {
    await store.close();
    throw error;
  }
}

function missingDatabase(where: string, problem: string): string {
  return (
    `no journeyd database: ${where} ${problem}. Set JOURNEYD_DATABASE_URL to the database journeyd serve uses ` +
    `(the default sqlite:./data/journeyd.db is relative to the directory you run in), or create one with journeyd migrate`
  );
}

/** Runs `fn` on the store of JOURNEYD_DATABASE_URL (openCommandStore), closing it after. */
export async function withStore<T>(use: DatabaseUse, fn: (store: Store) => Promise<T>): Promise<T> {
  const { store } = await openCommandStore(readConfig().databaseUrl, use);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
