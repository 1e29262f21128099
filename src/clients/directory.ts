import { randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/connect.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { type CacheChanges, OUTAGE_GRACE_MS } from '../db/generation.js';
import { clientCredentials } from '../db/schema.js';
import { CachedMap, type StaleIfError } from '../lib/cached.js';
import { type Clock, systemClock } from '../lib/clock.js';
import { constantTimeEqual, hmacSha256 } from '../lib/crypto.js';
import { type ClientRecord, loadClientRecord } from './record.js';
import { candidatesFor, type SecretVerifier, type StoredSecret } from './secret-verifier.js';
import { type PresentedSecret, readPresentedSecret, type SecretSlot, secretSlot } from './secrets.js';

/** How long a cached record may be used even if no change was signalled: a safety net. */
const RECORD_MAX_AGE_MS = 60_000;
/** Bound on memory: at most this many clients are cached; the oldest entry goes first. */
const MAX_CACHED_CLIENTS = 10_000;
/** How many records a change made stale are loaded again at once (see dropStale); the rest when next used. */
const MAX_RELOADED_AFTER_CHANGE = 100;
/**
 * How long a record past its age may still serve while the database cannot be reached: a
 * client seen in the last minute keeps getting tokens through an outage of OUTAGE_GRACE_MS
 * (after which the generation watcher drops every record anyway). Its reload is tried
 * again each second.
 */
const STALE_IF_UNAVAILABLE: StaleIfError = { forMs: OUTAGE_GRACE_MS, retryAfterMs: 1_000, servesStale: isDatabaseUnavailable };
/** Bound on memory: at most this many verified secrets are remembered (two per cached client on average). */
const MAX_REMEMBERED_SECRETS = 2 * MAX_CACHED_CLIENTS;

/** A secret that verified: the stored hash it verified against, and the HMAC of what was presented. */
interface RememberedSecret {
  clientId: string;
  hash: string;
  digest: Buffer;
}

/**
 * The token endpoint's view of clients: a cache of ClientRecords, and the secrets that
 * verified, so that a returning client does not pay argon2id on every request.
 *
 * Why it is safe: every change that affects authentication (disable, delete, new secret,
 * grants, IP ranges, expiry, a granted service) moves the cache generation in the same
 * transaction, naming what it changed, and the records it made stale are then dropped (see
 * dropStale): by the instance that made the change right after the commit, by the others
 * within one poll interval (250 ms). The next request works from a freshly loaded record.
 *
 * A verified secret is remembered apart from the records, as an HMAC under a random
 * per-process key (never the secret itself), keyed by the id of the secret row it
 * verified against (its credential) and bound to that row's hash. It is honoured only while
 * the current record still holds that credential, live and with the same hash: a new secret
 * is a new credential and starts unverified, a removed or revoked one is gone from the
 * record's secrets, an expired one is refused by its own expiry, and a disabled, expired or deleted client never
 * reaches the secret check (see oauth/client-auth/authenticate.ts). Because it outlives the record, a
 * reload (every change anywhere, and every RECORD_MAX_AGE_MS) costs one query, not one
 * argon2id verification per connection waiting at that moment.
 */
export class ClientDirectory {
  private readonly records: CachedMap<string, ClientRecord | undefined>;
  private readonly remembered = new Map<string, RememberedSecret>();
  /** How many remembered secrets each client_id has (see mayNeedArgon2). */
  private readonly rememberedPerClient = new Map<string, number>();
  private readonly digestKey = randomBytes(32);
  /** The client_id of the last record a lookup found: the decoy of lookups that find none (see load). */
  private lastFound: string | undefined;

  constructor(
    private readonly db: Db,
    /** argon2id verification under admission control, at a constant cost when it fails. */
    private readonly verifier: SecretVerifier,
    /** Where a failed background write goes (the log, at most once a second). */
    private readonly onWriteError: (error: unknown) => void = () => {},
    /** The app's clock, for the age of records. */
    clock: Clock = systemClock,
  ) {
    this.records = new CachedMap((clientId) => this.load(clientId), {
      now: clock,
      maxAgeMs: RECORD_MAX_AGE_MS,
      maxEntries: MAX_CACHED_CLIENTS,
      staleIfError: STALE_IF_UNAVAILABLE,
    });
  }

  /**
   * Loads a client's record. A lookup that finds no client then loads the record of the
   * last client that was found (a decoy, whose result is dropped), so that it costs what a
   * lookup that finds one costs: the same query with rows to join, and a record to build.
   * Otherwise a made-up client_id would be refused measurably sooner than a real one whose
   * record this instance does not hold yet, and its timing would tell the two apart.
   */
  private async load(clientId: string): Promise<ClientRecord | undefined> {
    const record = await loadClientRecord(this.db, clientId);
    if (record !== undefined) this.lastFound = clientId;
    else if (this.lastFound !== undefined) await loadClientRecord(this.db, this.lastFound).catch(() => undefined);
    return record;
  }

  find(clientId: string): Promise<ClientRecord | undefined> {
    return this.records.get(clientId);
  }

  /**
   * The client's record, and whether it came from the cache as it was (`fromCache`): no
   * database query was started or waited for. See reload for why that matters.
   */
  async lookUp(clientId: string): Promise<{ record: ClientRecord | undefined; fromCache: boolean }> {
    const fromCache = this.records.holdsLoaded(clientId);
    return { record: await this.records.get(clientId), fromCache };
  }

  /**
   * Loads the client's record from the database again, and caches it. Client
   * authentication calls it so that every request that spends argon2id also spends one
   * database lookup, whether or not the record was cached: a known client_id usually is, a
   * made-up one seldom, and the time of a refusal would otherwise tell the two apart.
   */
  reload(clientId: string): Promise<ClientRecord | undefined> {
    return this.records.reload(clientId);
  }

  /**
   * Whether authenticating `clientId` with a secret will surely need argon2id: its record
   * is not cached (so it is unknown, or has not been looked up lately) and none of its
   * secrets is remembered. When argon2 admission is full, such a request can only end in
   * 503, and the token endpoint answers so before looking the client up: a flood of made-up
   * client_ids then costs no database query either (see oauth/client-auth/authenticate.ts).
   */
  mayNeedArgon2(clientId: string): boolean {
    return !this.records.has(clientId) && !this.rememberedPerClient.has(clientId);
  }

  /**
   * Which live secret of the client `presented` is (its credential id), or undefined. A
   * secret that verified before is recognised by its HMAC in constant time, without argon2
   * and without waiting for admission; otherwise the verifier checks the one candidate
   * (see candidatesFor and SecretVerifier).
   */
  async verifySecret(
    record: ClientRecord,
    presented: string,
    now: number,
    read: PresentedSecret = readPresentedSecret(presented),
  ): Promise<string | undefined> {
    const recognised = this.recognise(record, presented, now);
    if (recognised !== undefined) return recognised;
    const digest = hmacSha256(this.digestKey, presented);
    const matched = await this.verifier.match(record.clientId, candidatesFor(liveSecrets(record, now), presented, read), presented);
    if (matched === undefined) return undefined;
    // Requests that shared one verification (see SecretVerifier) all get here: the first remembers.
    if (this.remembered.get(matched.id)?.hash === matched.hash) return matched.id;
    this.remember(record.clientId, matched, digest);
    if (!matched.selfIdentifying && matched.slot === null) this.recordSlot(matched.id, secretSlot(presented));
    return matched.id;
  }

  /** The credential id of the live secret of the client that `presented` is and that verified before: constant time, no argon2. */
  recognise(record: ClientRecord, presented: string, now: number): string | undefined {
    const digest = hmacSha256(this.digestKey, presented);
    let recognised: string | undefined;
    for (const secret of liveSecrets(record, now)) {
      const remembered = this.remembered.get(secret.id);
      if (remembered !== undefined && remembered.hash === secret.hash && constantTimeEqual(remembered.digest, digest))
        recognised = secret.id;
    }
    return recognised;
  }

  /**
   * An opaque secret made before slots existed learns its slot the first time it verifies,
   * so that it is no longer checked for secrets of the other slot.
   * Nothing waits for it: until it is written, the secret is simply checked in both slots.
   */
  private recordSlot(secretId: string, slot: SecretSlot): void {
    this.db
      .update(clientCredentials)
      .set({ slot })
      .where(and(eq(clientCredentials.id, secretId), isNull(clientCredentials.slot)))
      .catch(this.onWriteError);
  }

  /** Forgets every record. Remembered secrets stay (see above). */
  invalidate(): void {
    this.records.invalidate();
  }

  /**
   * Forgets the records a change made stale, called when the cache generation moves: the
   * clients it names, those granted a service it names, and federated clients when a
   * trusted issuer changed. Every other record stays, so a database outage right after a
   * change still finds them here. Those forgotten that were in use are loaded again at once
   * (a few at most), so that they too are here, in their new state, when the database goes.
   */
  dropStale(changes: CacheChanges): void {
    const changedClients = changes.keys('clients');
    const changedServices = changes.keys('services');
    if (changedClients === 'all' || changedServices === 'all') {
      this.invalidate();
      return;
    }
    const issuersChanged = changes.touches('trusted_issuers');
    const forgotten: string[] = [];
    this.records.deleteWhere((clientId, record) => {
      const stale =
        changedClients.has(clientId) ||
        (record !== undefined &&
          ((issuersChanged && record.authMethod === 'federated') ||
            [...record.grants.values()].some((grant) => changedServices.has(grant.serviceId))));
      if (stale && record !== undefined) forgotten.push(clientId);
      return stale;
    });
    for (const clientId of forgotten.slice(0, MAX_RELOADED_AFTER_CHANGE)) this.records.get(clientId).catch(() => {});
  }

  private remember(clientId: string, secret: StoredSecret, digest: Buffer): void {
    // Delete first, so that the entry moves to the end of the eviction order.
    this.forget(secret.id);
    if (this.remembered.size >= MAX_REMEMBERED_SECRETS) {
      const oldest = this.remembered.keys().next();
      if (!oldest.done) this.forget(oldest.value);
    }
    this.remembered.set(secret.id, { clientId, hash: secret.hash, digest });
    this.rememberedPerClient.set(clientId, (this.rememberedPerClient.get(clientId) ?? 0) + 1);
  }

  private forget(secretId: string): void {
    const entry = this.remembered.get(secretId);
    if (entry === undefined) return;
    this.remembered.delete(secretId);
    const left = (this.rememberedPerClient.get(entry.clientId) ?? 1) - 1;
    if (left > 0) this.rememberedPerClient.set(entry.clientId, left);
    else this.rememberedPerClient.delete(entry.clientId);
  }
}

function liveSecrets(record: ClientRecord, now: number): StoredSecret[] {
  return record.secrets.filter((secret) => secret.expiresAt === null || secret.expiresAt > now);
}
