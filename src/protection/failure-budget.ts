import { isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { evictOldest } from '../lib/cached.js';
import { type Clock, systemClock } from '../lib/clock.js';

/**
 * A token bucket per key: each failure spends one token, tokens come back at `limit` per
 * `windowMs` up to `capacity` (the most failures a key may have in a burst, `limit`
 * unless smaller), and a key with less than one token left is over its budget until one
 * has come back. A key that fails now and then never runs out; a key that fails
 * `capacity` times in a burst waits `windowMs / limit` per further attempt.
 *
 * A bucket can go into debt, down to `-limit`: a failure is counted when it ends, so the
 * attempts of many parallel connections that all found one token left end together, and
 * each of them is paid back before the next try. Without the debt, 20 connections would
 * get up to 20 failures (20 argon2id verifications) per token that comes back; with it,
 * the average stays at `limit` per window however many connections a caller opens, and
 * no key ever waits longer than about one window.
 *
 * Memory is bounded: at most `maxKeys` buckets are kept, the least recently failed first
 * to go, and a bucket that has filled up again is dropped when next looked at.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly refillPerMs: number;
  private readonly capacity: number;

  constructor(
    private readonly limit: number,
    windowMs: number,
    private readonly maxKeys: number,
    private readonly now: Clock = systemClock,
    capacity = limit,
  ) {
    this.refillPerMs = limit / windowMs;
    this.capacity = Math.min(capacity, limit);
  }

  /** Milliseconds until `key` may try again; 0 when it is within its budget. */
  waitMs(key: string): number {
    const tokens = this.tokens(key);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.refillPerMs);
  }

  /** Spends one token of `key`. */
  spend(key: string): void {
    const tokens = this.tokens(key);
    this.buckets.delete(key);
    if (this.buckets.size >= this.maxKeys) evictOldest(this.buckets);
    this.buckets.set(key, { tokens: Math.max(tokens - 1, -this.limit), at: this.now() });
  }

  /** Forgets `key`: its budget is whole again. */
  clear(key: string): void {
    this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }

  private tokens(key: string): number {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return this.capacity;
    const tokens = Math.min(this.capacity, bucket.tokens + (this.now() - bucket.at) * this.refillPerMs);
    if (tokens >= this.capacity) this.buckets.delete(key);
    return tokens;
  }
}

export interface FailureBudgetLimits {
  /** Failed authentications a (client_id, address) pair may have per window. */
  perClientAndAddress: number;
  /** Failed authentications one address may have per window, whatever client_ids it names. */
  perAddress: number;
  /** Of those, how many it may have at once (at most `perAddress`). */
  burstPerAddress: number;
  windowMs: number;
}

/** Bound on memory: buckets kept per kind (about 100 bytes each). */
const MAX_BUCKETS = 50_000;

/**
 * Failed client authentications counted per (client_id, source address) and per source
 * address. Over either budget, a request is refused before any work is done on it.
 *
 * Nothing is counted per client_id alone: a flood of wrong secrets for a client_id from
 * other addresses spends those addresses' budgets, never the client's own, so nobody can
 * lock a client out from where it really calls. The presented client_id is used as given,
 * whether a client has it or not, so a refusal looks the same for both.
 *
 * An address spends its budget at most `burstPerAddress` at a time. A flood of made-up
 * client_ids (each a fresh pair) from one address then costs at most that many argon2id
 * verifications at once, and afterwards one per `windowMs / perAddress`; an address that
 * many clients share (a NAT) still has the whole `perAddress` per window for the failures
 * of its misconfigured clients, which each pair budget spreads out.
 *
 * The counters live in this process: with several instances behind a load balancer, each
 * keeps its own, and an address gets each instance's budget.
 */
export class FailureBudgets {
  private readonly pairs: TokenBuckets;
  private readonly addresses: TokenBuckets;

  constructor(limits: FailureBudgetLimits, now: Clock = systemClock) {
    this.pairs = new TokenBuckets(limits.perClientAndAddress, limits.windowMs, MAX_BUCKETS, now);
    this.addresses = new TokenBuckets(limits.perAddress, limits.windowMs, MAX_BUCKETS, now, limits.burstPerAddress);
  }

  /** Milliseconds until this caller may try again; 0 when it is within both budgets. */
  waitMs(clientId: string, address: string): number {
    const from = addressKey(address);
    return Math.max(this.addresses.waitMs(from), this.pairs.waitMs(pairKey(clientId, from)));
  }

  failed(clientId: string, address: string): void {
    const from = addressKey(address);
    this.addresses.spend(from);
    this.pairs.spend(pairKey(clientId, from));
  }

  /**
   * A successful authentication makes the pair's budget whole again (not the address's).
   * With no pair in debt, as nearly always, there is nothing to clear, and no key to build.
   */
  succeeded(clientId: string, address: string): void {
    if (this.pairs.size === 0) return;
    this.pairs.clear(pairKey(clientId, addressKey(address)));
  }
}

/**
 * Whom a budget belongs to. An IPv6 caller is counted by its /64: a single host usually
 * holds a whole /64 and could otherwise take a fresh budget for every address in it.
 * An IPv4-mapped IPv6 address counts as the IPv4 address it is.
 */
export function addressKey(address: string): string {
  // Every IPv6 address has a colon: an IPv4 caller, the usual one, is known without isIPv6's pattern.
  if (!address.includes(':') || !isIPv6(address)) return address;
  try {
    const parsed = ipaddr.IPv6.parse(address);
    if (parsed.isIPv4MappedAddress()) return parsed.toIPv4Address().toString();
    return `${parsed.toNormalizedString().split(':').slice(0, 4).join(':')}::/64`;
  } catch {
    return address;
  }
}

/** Long presented client_ids are cut: the key only has to tell attempts apart, not name them. */
function pairKey(clientId: string, from: string): string {
  return `${from} ${clientId.slice(0, 128)}`;
}
