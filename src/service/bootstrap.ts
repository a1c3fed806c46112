import { isApplicationCode, randomToken } from '../domain/codes.js';
import type { Store } from '../store/store.js';

export interface BootstrapResult {
  readonly applicationCode: string;
  readonly apiToken: string;
}

/**
 * On a database without any application, creates one application and one
 * server API token granted to it (docs/deployment.md). Returns undefined when the
 * database already had an application: tokens are stored hashed and cannot be shown again.
 */
export async function bootstrapIfEmpty(
  store: Store,
  applicationCode: string,
  apiToken: string | undefined,
): Promise<BootstrapResult | undefined> {
  if (!isApplicationCode(applicationCode)) {
    throw new Error(`JOURNEYD_BOOTSTRAP_APP must look like XXXXX-XXXXX (upper-case letters or digits), got "${applicationCode}"`);
  }
  if ((await store.applications.count()) > 0) return undefined;
  const application = await store.applications.create(applicationCode, 'Bootstrap application');
  const token = apiToken ?? randomToken();
  await store.applications.createToken(token, 'api', 'bootstrap', [application.id]);
  return { applicationCode: application.code, apiToken: token };
}
