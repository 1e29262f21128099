import { errors, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import { type ClientKeySet, clientKeySet, JwksFetchError } from '../../keys/assertions.js';
import { evictOldest } from '../../lib/cached.js';
import type { Clock } from '../../lib/clock.js';
import type { Lookup } from '../../lib/fence.js';
import { Outbound, type OutboundAnswer, OutboundError } from '../../lib/outbound.js';
import { PRIVATE_JWK_MEMBERS } from '../../schemas/clients.js';

/** A key set larger than this is refused: a few dozen keys fit in a fraction of it. */
export const MAX_JWKS_BYTES = 64 * 1024;
/** More keys than this in one set is not a key set anyone means. */
const MAX_JWKS_KEYS = 100;
/** A fetched key set is used this long before it is fetched again. */
export const JWKS_CACHE_MS = 5 * 60_000;
/**
 * An unknown `kid` fetches the set again (the client or platform may have rotated its
 * key), and so does a failed fetch, but at most this often per key set: a stream of
 * made-up kids cannot turn Portier into a load generator against someone's key server.
 */
export const JWKS_REFETCH_INTERVAL_MS = 5_000;
/**
 * A set that cannot be fetched again when it is due (the key server is down) is still used
 * for this long past its JWKS_CACHE_MS, so that a key server's outage does not stop the
 * clients whose keys Portier already has; a kid it does not know is refused meanwhile.
 * Bounded, because a key withdrawn at the source must not stay trusted for ever by
 * whoever can keep Portier from reaching it.
 */
export const JWKS_STALE_MS = 60 * 60_000;
/** Bound on memory: at most this many key sets are kept; the oldest goes first. */
const MAX_CACHED_SETS = 1_000;

export { JwksFetchError } from '../../keys/assertions.js';

export type { Lookup } from '../../lib/fence.js';

export interface JwksFetchOptions {
  /** Whether the URI may resolve to loopback, private and other non-public addresses (JWKS_URI_ALLOW_PRIVATE). */
  allowPrivate: boolean;
  /** Extra CA certificates (PEM) to trust besides Node's (JWKS_URI_CA_FILE). */
  ca: string | undefined;
  timeoutMs: number;
  /**
   * The resolver, in place of the guarded one; for tests that play a DNS server which
   * answers differently when asked again (rebinding), to show the check at connect time.
   */
  lookup?: Lookup;
}

/**
 * Where a key set comes from: a jwks_uri (a private_key_jwt client's, or a trusted
 * issuer's), or an issuer whose OpenID discovery document names it
 * (`<issuer>/.well-known/openid-configuration`, read each time the set is fetched).
 */
export type JwksSource = { jwksUri: string } | { discoveryFrom: string };

/**
 * Fetches key sets and discovery documents over lib/outbound.ts, fenced in because an
 * admin's input chooses where Portier connects (SSRF): https only, no redirects (a redirect
 * would need the same checks again: refused instead), unless `allowPrivate` only public
 * addresses (checked again at connect time, against DNS rebinding), one deadline for the
 * whole exchange, and at most MAX_JWKS_BYTES read.
 */
export class JwksFetcher {
  private readonly outbound: Outbound;

  constructor(private readonly options: JwksFetchOptions) {
    this.outbound = new Outbound({
      label: 'jwks_uri',
      allowPrivate: options.allowPrivate,
      httpsOnly: true,
      ca: options.ca,
      timeoutMs: options.timeoutMs,
      maxResponseBytes: MAX_JWKS_BYTES,
      ...(options.lookup !== undefined && { lookup: options.lookup }),
    });
  }

  /** The key set of `source` (see jwks and discovered). */
  fetch(source: JwksSource): Promise<JSONWebKeySet> {
    return 'jwksUri' in source ? this.jwks(source.jwksUri) : this.discovered(source.discoveryFrom);
  }

  /** A JWKS from `uri`. */
  async jwks(uri: string, timeoutMs = this.options.timeoutMs): Promise<JSONWebKeySet> {
    return parseJwks(await this.get(uri, 'jwks_uri', timeoutMs));
  }

  /**
   * An issuer's key set, found through its OpenID discovery document (OpenID Connect
   * Discovery §4): the document's `issuer` must be `issuer` exactly, and its `jwks_uri` is
   * then fetched with the same fence. Both fetches share one deadline (options.timeoutMs).
   */
  async discovered(issuer: string): Promise<JSONWebKeySet> {
    const started = performance.now();
    const documentUri = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const body = await this.get(documentUri, 'discovery document', this.options.timeoutMs);
    let document: unknown;
    try {
      document = JSON.parse(body);
    } catch {
      throw new JwksFetchError('discovery document is not JSON');
    }
    const { issuer: named, jwks_uri: jwksUri } = (typeof document === 'object' && document !== null ? document : {}) as Record<
      string,
      unknown
    >;
    if (named !== issuer)
      throw new JwksFetchError(`discovery document names another issuer (${JSON.stringify(String(named)).slice(0, 100)})`);
    if (typeof jwksUri !== 'string') throw new JwksFetchError('discovery document has no jwks_uri');
    return this.jwks(jwksUri, Math.max(1, Math.round(this.options.timeoutMs - (performance.now() - started))));
  }

  /** Closes the kept-alive connections. */
  close(): Promise<void> {
    return this.outbound.close();
  }

  /** GETs `uri`; its body when it answers 200, else JwksFetchError. `label` names what is fetched in the errors' messages. */
  private async get(uri: string, label: string, timeoutMs: number): Promise<string> {
    let answer: OutboundAnswer;
    try {
      answer = await this.outbound.request(uri, {
        label,
        timeoutMs,
        headers: { accept: 'application/jwk-set+json, application/json' },
        readBody: (status) => status === 200,
      });
    } catch (error) {
      throw new JwksFetchError(error instanceof OutboundError ? error.message : `${label} fetch failed: ${String(error)}`);
    }
    if (answer.status !== 200) throw new JwksFetchError(`${label} answered HTTP ${answer.status}`);
    return answer.body.toString('utf8');
  }
}

/** Fetches one JWKS from `uri` on connections of its own (see JwksFetcher). */
export async function fetchJwks(uri: string, options: JwksFetchOptions): Promise<JSONWebKeySet> {
  const fetcher = new JwksFetcher(options);
  try {
    return await fetcher.jwks(uri);
  } finally {
    await fetcher.close();
  }
}

/** The body as a key set of public keys, or JwksFetchError. */
export function parseJwks(body: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new JwksFetchError('jwks_uri answer is not JSON');
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(keys) || keys.length === 0) {
    throw new JwksFetchError('jwks_uri answer is not a JWKS with keys');
  }
  if (keys.length > MAX_JWKS_KEYS) throw new JwksFetchError(`jwks_uri answer has more than ${MAX_JWKS_KEYS} keys`);
  if (keys.some((key) => typeof key !== 'object' || key === null || Array.isArray(key))) {
    throw new JwksFetchError('jwks_uri answer has a key that is not a JSON object');
  }
  // A published private key is a leaked key: nothing it signs proves anything.
  if (keys.some((key) => PRIVATE_JWK_MEMBERS.some((member) => member in (key as object)))) {
    throw new JwksFetchError('jwks_uri answer contains private or symmetric key material');
  }
  return { keys: keys as JSONWebKeySet['keys'] };
}

type VerificationKey = Awaited<ReturnType<ClientKeySet>>;

interface Entry {
  /** The set as last fetched, and when; undefined until a fetch has succeeded. */
  keys: ClientKeySet | undefined;
  fetchedAt: number;
  /** When a fetch was last started, successful or not (for JWKS_REFETCH_INTERVAL_MS). */
  attemptedAt: number;
  /** Why the last fetch failed; undefined once one succeeds. */
  failure: JwksFetchError | undefined;
  pending: Promise<void> | undefined;
}

/**
 * Key sets by where they come from (a jwks_uri, or an issuer's discovery document), on the
 * app's clock: a set is used for JWKS_CACHE_MS, then fetched again; a kid it does not know
 * fetches it again sooner; neither more often than JWKS_REFETCH_INTERVAL_MS per set (a
 * failure is remembered that long, too), so a stream of made-up kids costs at most one
 * fetch per interval. Concurrent requests for the same set share one fetch.
 *
 * When a due fetch fails, the set already held is kept, for at most JWKS_STALE_MS past its
 * cache time: the keys it has go on working while the key server is down (later attempts
 * run in the background, so nobody waits for a server that does not answer), and a kid it
 * does not know is refused as soon as the interval's one attempt has failed.
 */
export class RemoteJwks {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly fetcher: Pick<JwksFetcher, 'fetch' | 'close'>,
    private readonly clock: Clock,
  ) {}

  /** Closes the fetcher's kept-alive connections (at shutdown). */
  close(): Promise<void> {
    return this.fetcher.close();
  }

  /** The key of `source`'s set that verifies a JWS with this header, or a JwksFetchError / jose JWKS error. */
  async getKey(source: JwksSource, header: JWSHeaderParameters): Promise<VerificationKey> {
    const cacheKey = 'jwksUri' in source ? `jwks_uri ${source.jwksUri}` : `discovery ${source.discoveryFrom}`;
    let entry = this.entries.get(cacheKey);
    if (entry === undefined) {
      entry = {
        keys: undefined,
        fetchedAt: Number.NEGATIVE_INFINITY,
        attemptedAt: Number.NEGATIVE_INFINITY,
        failure: undefined,
        pending: undefined,
      };
      this.store(cacheKey, entry);
    }
    const now = this.clock();
    const age = now - entry.fetchedAt;
    const mayFetch = entry.pending !== undefined || now - entry.attemptedAt >= JWKS_REFETCH_INTERVAL_MS;
    if (age >= JWKS_CACHE_MS + JWKS_STALE_MS) {
      // Nothing usable held: the request waits for the fetch (at most one per interval).
      if (mayFetch) await this.refresh(entry, source);
    } else if (age >= JWKS_CACHE_MS && mayFetch) {
      // Due. After a success, wait for the new set (a key withdrawn at the source stops
      // now); while the key server fails, answer from the set held and try in the background.
      const refreshing = this.refresh(entry, source);
      if (entry.failure === undefined) await refreshing;
    }
    const keys = this.usable(entry);
    try {
      return await keys(header);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      if (entry.pending === undefined && this.clock() - entry.attemptedAt < JWKS_REFETCH_INTERVAL_MS) throw error;
      // A kid the set does not know: perhaps a new key. Fetched again, once per interval.
      await this.refresh(entry, source);
      if (entry.failure !== undefined) throw entry.failure;
      return this.usable(entry)(header);
    }
  }

  /** The set to select from, if one is held and not too old; otherwise why there is none. */
  private usable(entry: Entry): ClientKeySet {
    if (entry.keys !== undefined && this.clock() - entry.fetchedAt < JWKS_CACHE_MS + JWKS_STALE_MS) return entry.keys;
    throw entry.failure ?? new JwksFetchError('key set not fetched yet');
  }

  /** Fetches `entry`'s set again (one fetch at a time); records the outcome in the entry. */
  private refresh(entry: Entry, source: JwksSource): Promise<void> {
    if (entry.pending !== undefined) return entry.pending;
    entry.attemptedAt = this.clock();
    const pending = this.fetcher.fetch(source).then(
      (jwks) => {
        try {
          entry.keys = clientKeySet(jwks);
          entry.fetchedAt = this.clock();
          entry.failure = undefined;
        } catch {
          entry.failure = new JwksFetchError('key set is not a usable JWKS');
        }
      },
      (error: unknown) => {
        entry.failure = error instanceof JwksFetchError ? error : new JwksFetchError(`key set fetch failed: ${String(error)}`);
      },
    );
    entry.pending = pending.finally(() => {
      entry.pending = undefined;
    });
    return entry.pending;
  }

  private store(cacheKey: string, entry: Entry): void {
    if (this.entries.size >= MAX_CACHED_SETS) evictOldest(this.entries);
    this.entries.set(cacheKey, entry);
  }
}
