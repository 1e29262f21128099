import ipaddr from 'ipaddr.js';

/**
 * IP networks: the CIDR ranges a client may call from, and the proxies TRUST_PROXY names.
 * ipaddr.js does the parsing and matching (IPv4-mapped IPv6 included), which is easy to
 * get subtly wrong by hand.
 */

/**
 * Parses an IPv4 or IPv6 CIDR (a bare address means a single host) and returns it in
 * canonical form with the host bits cleared, e.g. `192.0.2.7/24` → `192.0.2.0/24`.
 * Returns undefined when it is not a network.
 * IPv4 must be written as four decimal parts: ipaddr.js would otherwise read `010.0.0.1`
 * as octal (8.0.0.1) and `1` as 0.0.0.1, which is never what an admin meant.
 */
export function normalizeCidr(input: string): string | undefined {
  const addressPart = input.split('/')[0] ?? '';
  if (!addressPart.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(addressPart)) return undefined;
  try {
    const [address, prefix] = input.includes('/')
      ? ipaddr.parseCIDR(input)
      : (() => {
          const parsed = ipaddr.parse(input);
          return [parsed, parsed.kind() === 'ipv4' ? 32 : 128] as const;
        })();
    // An IPv4-mapped range (::ffff:10.0.0.0/104) is stored as the IPv4 range it means,
    // because callers are matched as IPv4 (see isAddressAllowed).
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
      const ipv4 = (address as ipaddr.IPv6).toIPv4Address();
      return `${ipaddr.IPv4.networkAddressFromCIDR(`${ipv4.toString()}/${prefix - 96}`).toString()}/${prefix - 96}`;
    }
    const network =
      address.kind() === 'ipv4'
        ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefix}`)
        : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`);
    return `${network.toString()}/${prefix}`;
  } catch {
    return undefined;
  }
}

/** A parsed network for fast matching on the token endpoint. */
export type Network = [ipaddr.IPv4 | ipaddr.IPv6, number];

export function parseNetworks(cidrs: readonly string[]): Network[] {
  return cidrs.map((cidr) => ipaddr.parseCIDR(cidr));
}

/**
 * Is the caller inside one of the networks? IPv4-mapped IPv6 callers (`::ffff:192.0.2.1`,
 * as Node reports IPv4 on a dual-stack socket) are matched as the IPv4 address they are.
 * No networks means no restriction.
 */
export function isAddressAllowed(address: string, networks: readonly Network[]): boolean {
  if (networks.length === 0) return true;
  // Same strictness as normalizeCidr: no octal, hex or shortened IPv4 forms.
  if (!address.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(address)) return false;
  let caller: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    caller = ipaddr.process(address);
  } catch {
    return false;
  }
  return networks.some(([network, prefix]) => caller.kind() === network.kind() && caller.match(network, prefix));
}

/**
 * Is `address` a public unicast address, one a server may reach on the Internet? Loopback,
 * private (RFC 1918, fc00::/7), link-local, carrier-grade NAT, multicast, unspecified and
 * reserved ranges are not. An IPv4-mapped IPv6 address counts as the IPv4 address it
 * carries, so `::ffff:127.0.0.1` is loopback too. Used to keep outgoing fetches that an
 * admin's input chooses (a client's jwks_uri) away from the server's own network.
 */
export function isPublicAddress(address: string): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return false;
  }
  return parsed.range() === 'unicast';
}

/**
 * Which connecting addresses are proxies TRUST_PROXY trusts: none (`false`), any (`true` or
 * a hop count: any address may then be the nearest proxy), or those in its list. What the
 * connection caps exempt, and where a client certificate header is read from.
 */
export function trustedProxies(value: boolean | number | readonly string[]): (address: string) => boolean {
  if (value === false) return () => false;
  if (value === true || typeof value === 'number') return () => true;
  const proxies = parseNetworks(value.map((entry) => normalizeCidr(entry) ?? entry));
  return (address) => isAddressAllowed(address, proxies);
}
