import { resolve } from 'node:path';

const SQLITE_PREFIX = 'sqlite:';

/** The file of a `sqlite:<path>` URL, resolved against the working directory; undefined for any other URL. */
export function sqliteFileOf(databaseUrl: string): string | undefined {
  if (!databaseUrl.startsWith(SQLITE_PREFIX)) return undefined;
  const path = databaseUrl.slice(SQLITE_PREFIX.length);
  return path === '' || path === ':memory:' ? path : resolve(path);
}

/** The database as a person reads it: `sqlite:` and the file's absolute path, or the URL with its password masked. */
export function describeDatabase(databaseUrl: string): string {
  const file = sqliteFileOf(databaseUrl);
  if (file !== undefined) return `${SQLITE_PREFIX}${file}`;
  return databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
