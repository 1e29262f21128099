/**
 * The variables of abuse resistance (src/protection/, docs/security.md "Abuse resistance"):
 * failure budgets, the tarpit, argon2 admission, connection caps, request timeouts. Declared
 * as in variables.ts (see there), which puts this table into the configuration.
 */
import { availableParallelism } from 'node:os';
import { computed, inMilliseconds, integer } from './kinds.js';

export const PROTECTION = {
  failuresPerClientAndAddress: integer({
    name: 'AUTH_FAILURES_PER_CLIENT_AND_ADDRESS',
    doc: 'failed client authentications one source address may have for one client_id per window, before 429',
    default: 10,
    min: 1,
    max: 1_000_000,
  }),
  failuresPerAddress: integer({
    name: 'AUTH_FAILURES_PER_ADDRESS',
    doc: 'failed client authentications one source address (an IPv6 /64) may have per window, whatever client_ids it names',
    default: 100,
    min: 1,
    max: 1_000_000,
  }),
  failureBurstPerAddress: integer({
    name: 'AUTH_FAILURE_BURST_PER_ADDRESS',
    doc: 'of those, how many one source address may have at once (at most `AUTH_FAILURES_PER_ADDRESS`); the rest come one per window ÷ `AUTH_FAILURES_PER_ADDRESS`',
    default: 20,
    min: 1,
    max: 1_000_000,
  }),
  failureWindowMs: inMilliseconds(
    integer({
      name: 'AUTH_FAILURE_WINDOW',
      doc: 'the window of both budgets, in seconds: a budget refills evenly over it (see [Abuse resistance](security.md#abuse-resistance))',
      default: 60,
      min: 1,
      max: 86_400,
    }),
  ),
  throttleDelayMs: integer({
    name: 'AUTH_THROTTLE_DELAY_MS',
    doc: 'how long a 429, or a 503 for a full argon2 queue, is held back before it is sent (the tarpit); `0` sends it at once',
    default: 1000,
    min: 0,
    max: 10_000,
  }),
  argon2Concurrency: integer({
    name: 'ARGON2_CONCURRENCY',
    doc: 'argon2id verifications run at once, each on a low-priority thread of its own',
    default: computed('the number of cores', () => availableParallelism()),
    min: 1,
    max: 64,
  }),
  argon2Queue: integer({
    name: 'ARGON2_QUEUE',
    doc: 'argon2id verifications that may wait for a turn; beyond that, 503 without queueing',
    default: computed('4 × `ARGON2_CONCURRENCY`', (env): number => 4 * PROTECTION.argon2Concurrency.read(env)),
    min: 0,
    max: 10_000,
  }),
  /** Undefined: follow the open-file limit (see protection/connections.ts, which works it out at start). */
  maxConnections: integer({
    name: 'MAX_CONNECTIONS',
    doc: 'open connections in all (lowered to 80 % of the open-file limit if that is less, with a warning); above 80 % of it, connections that have not sent a request head within 1 s are closed, and at the cap a new connection takes the place of a slow or idle one (see [Abuse resistance](security.md#abuse-resistance))',
    default: computed(
      '80 % of the open-file limit, at most one per 64 KiB of memory (10000 where the limit cannot be read)',
      () => undefined,
    ),
    min: 1,
    max: 1_000_000,
  }),
  maxConnectionsPerAddress: integer({
    name: 'MAX_CONNECTIONS_PER_ADDRESS',
    doc: 'open connections per source address; `0`: no limit. Addresses listed in `TRUST_PROXY` are exempt; with `TRUST_PROXY=true` or a hop count nobody is capped per address',
    default: 256,
    min: 0,
    max: 1_000_000,
  }),
  requestTimeoutMs: inMilliseconds(
    integer({
      name: 'REQUEST_TIMEOUT',
      doc: "seconds within which a request's headers and body must have arrived",
      default: 10,
      min: 1,
      max: 600,
    }),
  ),
};
