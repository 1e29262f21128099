import { request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { rootCertificates } from 'node:tls';
import { errors, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import { type ClientKeySet, clientKeySet, JwksFetchError } from '../../keys/assertions.js';
import { evictOldest } from '../../lib/cached.js';
import type { Clock } from '../../lib/clock.js';
import { type Lookup, publicOnlyLookup as publicOnlyFetchLookup } from '../../lib/fence.js';
import { isPublicAddress } from '../../lib/networks.js';
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

/** Fetches the key set of `source` (see fetchJwks and fetchDiscoveredJwks). */
export function fetchJwksFrom(source: JwksSource, options: JwksFetchOptions): Promise<JSONWebKeySet> {
  return 'jwksUri' in source ? fetchJwks(source.jwksUri, options) : fetchDiscoveredJwks(source.discoveryFrom, options);
}

/** Fetches a JWKS from `uri` (see fetchGuarded for the fence around it). */
export async function fetchJwks(uri: string, options: JwksFetchOptions): Promise<JSONWebKeySet> {
  return parseJwks(await fetchGuarded(uri, options, 'jwks_uri'));
}

/**
 * An issuer's key set, found through its OpenID discovery document (OpenID Connect
 * Discovery §4): the document's `issuer` must be `issuer` exactly, and its `jwks_uri` is
 * then fetched with the same fence. Both fetches share one deadline (options.timeoutMs).
 */
export async function fetchDiscoveredJwks(issuer: string, options: JwksFetchOptions): Promise<JSONWebKeySet> {
  const started = performance.now();
  const documentUri = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const body = await fetchGuarded(documentUri, options, 'discovery document');
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
  const left = Math.max(1, Math.round(options.timeoutMs - (performance.now() - started)));
  return fetchJwks(jwksUri, { ...options, timeoutMs: left });
}

/**
 * GETs `uri` and returns its body, fenced in because an admin's input chooses where
 * Portier connects (SSRF):
 * - https only, no redirects (a redirect would need the same checks again: refused instead);
 * - unless `allowPrivate`, every address the host name resolves to must be public, and the
 *   address actually connected to is checked again once the socket connects, so a DNS
 *   answer that changes between the check and the connection (rebinding) gains nothing;
 * - one deadline for the whole exchange, and at most MAX_JWKS_BYTES read.
 * `label` names what is fetched in the errors' messages.
 */
function fetchGuarded(uri: string, options: JwksFetchOptions, label: string): Promise<string> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return Promise.reject(new JwksFetchError(`${label} is not a URL`));
  }
  if (url.protocol !== 'https:') return Promise.reject(new JwksFetchError(`${label} is not https`));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  // A literal address is connected to without any lookup: check it here.
  if (isIP(host) !== 0 && !options.allowPrivate && !isPublicAddress(host)) {
    return Promise.reject(new JwksFetchError(`${label} names a non-public address (${host})`));
  }

  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, body?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (error !== undefined) {
        request.destroy();
        reject(error instanceof JwksFetchError ? error : new JwksFetchError(`${label} fetch failed: ${describe(error)}`));
      } else resolve(body ?? '');
    };
    const request = httpsRequest({
      protocol: 'https:',
      hostname: host,
      port: url.port === '' ? 443 : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { accept: 'application/jwk-set+json, application/json' },
      // Passing `ca` replaces Node's trusted roots: keep them and add the configured ones.
      ...(options.ca !== undefined && { ca: [...rootCertificates, options.ca] }),
      ...(isIP(host) === 0 && { servername: host }),
      ...(options.lookup !== undefined ? { lookup: options.lookup } : !options.allowPrivate && { lookup: publicOnlyLookup(label) }),
      agent: false,
    });
    const deadline = setTimeout(
      () => finish(new JwksFetchError(`${label} did not answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    request.on('socket', (socket: Socket) => {
      if (options.allowPrivate) return;
      socket.once('connect', () => {
        const remote = socket.remoteAddress;
        if (remote === undefined || !isPublicAddress(remote)) {
          finish(new JwksFetchError(`${label} connected to a non-public address (${remote ?? 'unknown'})`));
        }
      });
    });
    request.on('error', (error) => finish(error));
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        finish(new JwksFetchError(`${label} answered HTTP ${response.statusCode ?? '?'}`));
        return;
      }
      const tooLarge = () => new JwksFetchError(`${label} answer is larger than ${MAX_JWKS_BYTES} bytes`);
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > MAX_JWKS_BYTES) {
        finish(tooLarge());
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_JWKS_BYTES) finish(tooLarge());
        else chunks.push(chunk);
      });
      response.on('error', (error) => finish(error));
      response.on('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8')));
    });
    request.end();
  });
}

/** The fence's lookup (lib/fence.ts), its refusals as JwksFetchError naming what was fetched. */
function publicOnlyLookup(label: string): Lookup {
  return publicOnlyFetchLookup((message) => new JwksFetchError(`${label} ${message}`));
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

function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined ? error.message : `${code}: ${error.message}`;
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
    private readonly fetcher: (source: JwksSource) => Promise<JSONWebKeySet>,
    private readonly clock: Clock,
  ) {}

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
    const pending = this.fetcher(source).then(
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
