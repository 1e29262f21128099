import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { rootCertificates } from 'node:tls';
import { errors, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import { evictOldest } from '../../lib/cached.js';
import type { Clock } from '../../lib/clock.js';
import { isPublicAddress } from '../../lib/networks.js';
import { PRIVATE_JWK_MEMBERS } from '../../schemas/clients.js';
import { type ClientKeySet, clientKeySet } from './client-assertion.js';

/** A key set larger than this is refused: a few dozen keys fit in a fraction of it. */
export const MAX_JWKS_BYTES = 64 * 1024;
/** More keys than this in one set is not a key set anyone means. */
const MAX_JWKS_KEYS = 100;
/** A fetched key set is used this long before it is fetched again. */
export const JWKS_CACHE_MS = 5 * 60_000;
/**
 * An unknown `kid` fetches the set again (the client may have rotated its key), and so
 * does a failed fetch, but at most this often per URI: a stream of made-up kids cannot
 * turn Portier into a load generator against the client's key server.
 */
export const JWKS_REFETCH_INTERVAL_MS = 5_000;
/** Bound on memory: key sets of at most this many URIs are kept; the oldest goes first. */
const MAX_CACHED_URIS = 1_000;

/** Why a key set could not be had; the message is the reason for the log, never for the caller. */
export class JwksFetchError extends Error {
  override readonly name = 'JwksFetchError';
}

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
  lookup?: typeof publicOnlyLookup;
}

/**
 * Fetches a client's JWKS from `uri`, fenced in because an admin's input chooses where
 * Portier connects (SSRF):
 * - https only, no redirects (a redirect would need the same checks again: refused instead);
 * - unless `allowPrivate`, every address the host name resolves to must be public, and the
 *   address actually connected to is checked again once the socket connects, so a DNS
 *   answer that changes between the check and the connection (rebinding) gains nothing;
 * - one deadline for the whole exchange, and at most MAX_JWKS_BYTES read;
 * - the answer must be a JSON key set of public keys.
 */
export function fetchJwks(uri: string, options: JwksFetchOptions): Promise<JSONWebKeySet> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return Promise.reject(new JwksFetchError('jwks_uri is not a URL'));
  }
  if (url.protocol !== 'https:') return Promise.reject(new JwksFetchError('jwks_uri is not https'));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  // A literal address is connected to without any lookup: check it here.
  if (isIP(host) !== 0 && !options.allowPrivate && !isPublicAddress(host)) {
    return Promise.reject(new JwksFetchError(`jwks_uri names a non-public address (${host})`));
  }

  return new Promise<JSONWebKeySet>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, jwks?: JSONWebKeySet) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (error !== undefined) {
        request.destroy();
        reject(error instanceof JwksFetchError ? error : new JwksFetchError(`jwks_uri fetch failed: ${describe(error)}`));
      } else if (jwks !== undefined) resolve(jwks);
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
      ...(options.lookup !== undefined ? { lookup: options.lookup } : !options.allowPrivate && { lookup: publicOnlyLookup }),
      agent: false,
    });
    const deadline = setTimeout(
      () => finish(new JwksFetchError(`jwks_uri did not answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    request.on('socket', (socket: Socket) => {
      if (options.allowPrivate) return;
      socket.once('connect', () => {
        const remote = socket.remoteAddress;
        if (remote === undefined || !isPublicAddress(remote)) {
          finish(new JwksFetchError(`jwks_uri connected to a non-public address (${remote ?? 'unknown'})`));
        }
      });
    });
    request.on('error', (error) => finish(error));
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        finish(new JwksFetchError(`jwks_uri answered HTTP ${response.statusCode ?? '?'}`));
        return;
      }
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > MAX_JWKS_BYTES) {
        finish(new JwksFetchError(`jwks_uri answer is larger than ${MAX_JWKS_BYTES} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_JWKS_BYTES) finish(new JwksFetchError(`jwks_uri answer is larger than ${MAX_JWKS_BYTES} bytes`));
        else chunks.push(chunk);
      });
      response.on('error', (error) => finish(error));
      response.on('end', () => {
        try {
          finish(undefined, parseJwks(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          finish(error instanceof Error ? error : new JwksFetchError(String(error)));
        }
      });
    });
    request.end();
  });
}

/**
 * dns.lookup that refuses a host name if any of its addresses is not public: with one
 * public and one private address, the connection could go to either.
 */
function publicOnlyLookup(
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error !== null) return callback(error, []);
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused !== undefined || addresses.length === 0) {
      return callback(new JwksFetchError(`jwks_uri host resolves to a non-public address (${refused?.address ?? 'none'})`), []);
    }
    if (options.all === true) return callback(null, addresses);
    const [first] = addresses as [LookupAddress];
    return callback(null, first.address, first.family);
  });
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
  fetchedAt: number;
  /** The set as last fetched, or the reason the last fetch failed. */
  keys: ClientKeySet | JwksFetchError;
  pending?: Promise<Entry>;
}

/**
 * Key sets of clients that publish them at a jwks_uri, per URI, on the app's clock: used
 * for JWKS_CACHE_MS, fetched again sooner when a `kid` is unknown, but never more often
 * than JWKS_REFETCH_INTERVAL_MS (a failure is remembered that long, too). Concurrent
 * requests for the same URI share one fetch.
 */
export class RemoteJwks {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly fetcher: (uri: string) => Promise<JSONWebKeySet>,
    private readonly clock: Clock,
  ) {}

  /** The key of `uri`'s set that verifies a JWS with this header, or a JwksFetchError / jose JWKS error. */
  async getKey(uri: string, header: JWSHeaderParameters): Promise<VerificationKey> {
    let entry = this.entries.get(uri);
    const age = entry === undefined ? Number.POSITIVE_INFINITY : this.clock() - entry.fetchedAt;
    if (entry === undefined || age >= JWKS_CACHE_MS || (entry.keys instanceof JwksFetchError && age >= JWKS_REFETCH_INTERVAL_MS)) {
      entry = await this.fetch(uri);
    }
    try {
      return await this.select(entry, header);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || this.clock() - entry.fetchedAt < JWKS_REFETCH_INTERVAL_MS) throw error;
      return this.select(await this.fetch(uri), header);
    }
  }

  private async select(entry: Entry, header: JWSHeaderParameters): Promise<VerificationKey> {
    if (entry.keys instanceof JwksFetchError) throw entry.keys;
    return entry.keys(header);
  }

  private fetch(uri: string): Promise<Entry> {
    const current = this.entries.get(uri);
    if (current?.pending !== undefined) return current.pending;
    const pending = this.fetcher(uri).then(
      (jwks) => {
        try {
          return { fetchedAt: this.clock(), keys: clientKeySet(jwks) };
        } catch {
          return { fetchedAt: this.clock(), keys: new JwksFetchError('jwks_uri answer is not a usable JWKS') };
        }
      },
      (error: unknown) => ({
        fetchedAt: this.clock(),
        keys: error instanceof JwksFetchError ? error : new JwksFetchError(`jwks_uri fetch failed: ${String(error)}`),
      }),
    );
    const placeholder: Entry = current ?? { fetchedAt: Number.NEGATIVE_INFINITY, keys: new JwksFetchError('not fetched yet') };
    placeholder.pending = pending;
    this.store(uri, placeholder);
    return pending.then((entry) => {
      this.store(uri, entry);
      return entry;
    });
  }

  private store(uri: string, entry: Entry): void {
    this.entries.delete(uri);
    if (this.entries.size >= MAX_CACHED_URIS) evictOldest(this.entries);
    this.entries.set(uri, entry);
  }
}
