import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { WebhookDestinationPolicy } from '../domain/webhook-destination.js';

/** Every address a host name resolves to. */
export type HostResolver = (hostname: string) => Promise<readonly LookupAddress[]>;

/** Where webhooks may be delivered, and how their host names are resolved for that check. */
export interface WebhookDestinations {
  readonly policy: WebhookDestinationPolicy;
  readonly resolve: HostResolver;
}

/** The system's resolver, the one `http.request` and `fetch` use. */
export const resolveWithSystem: HostResolver = (hostname) => lookup(hostname, { all: true });

/** The strict policy (no allow-list) with the system's resolver. */
export const DEFAULT_WEBHOOK_DESTINATIONS: WebhookDestinations = { policy: WebhookDestinationPolicy.STRICT, resolve: resolveWithSystem };

/** A connection the destination policy refused before it was opened; the message fails for good. */
export class DestinationRefused extends Error {
  override readonly name = 'DestinationRefused';
}

/**
 * The `lookup` of the webhook provider's connections. The addresses are
 * checked after resolving and just before connecting, to the same answer the
 * socket then uses, so a name that resolves (or is rebound) to a forbidden
 * address is refused; one forbidden address refuses the name.
 */
export function guardedLookup({ policy, resolve }: WebhookDestinations): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        for (const { address } of addresses) {
          const refusal = policy.refusalOfResolvedAddress(hostname, address);
          if (refusal !== undefined) return callback(new DestinationRefused(refusal), '');
        }
        const usable = options.family ? addresses.filter((a) => a.family === options.family) : addresses;
        if (options.all) return callback(null, [...usable]);
        const [first] = usable;
        if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
        callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}
