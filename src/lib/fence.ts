import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isPublicAddress } from './networks.js';

/**
 * The private-address fence of outgoing requests whose destination an admin's input
 * chooses (a client's jwks_uri, a trusted issuer's keys, a webhook's URL): unless private
 * addresses are allowed, a host name is resolved only to public addresses (this lookup),
 * and the address actually connected to is checked again once the socket connects
 * (lib/outbound.ts, with isPublicAddress), so a DNS answer that changes between the two
 * (rebinding) gains nothing.
 */

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** dns.lookup's signature, as undici's connector (net.connect, tls.connect) calls it. */
export type Lookup = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/**
 * dns.lookup that refuses a host name if any of its addresses is not public: with one
 * public and one private address, the connection could go to either. `refusal` makes the
 * error (its message names the address).
 */
export function publicOnlyLookup(refusal: (message: string) => Error): Lookup {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) return callback(error, []);
      const refused = addresses.find((entry) => !isPublicAddress(entry.address));
      if (refused !== undefined || addresses.length === 0) {
        return callback(refusal(`host resolves to a non-public address (${refused?.address ?? 'none'})`), []);
      }
      if (options.all === true) return callback(null, addresses);
      const [first] = addresses as [LookupAddress];
      return callback(null, first.address, first.family);
    });
  };
}

/** Every address `hostname` resolves to (for checks before anything is sent). */
export function resolveAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) => (error === null ? resolve(addresses) : reject(error)));
  });
}
