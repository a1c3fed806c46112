import { readConfig } from '../config.js';
import { Store } from '../store/store.js';

/** Bad arguments: the CLI prints the message and its usage and exits 2. */
export class UsageError extends Error {}

/** Runs `fn` on the migrated store of JOURNEYD_DATABASE_URL, closing it after. */
export async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = Store.open(readConfig().databaseUrl);
  try {
    await store.migrate();
    return await fn(store);
  } finally {
    await store.close();
  }
}
