import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { type Network, parseNetworks } from '../clients/rules.js';
import { dummySecretHash, verifySecret } from '../clients/secrets.js';
import type { Db } from '../db/connect.js';
import { clients } from '../db/schema.js';
import { constantTimeEqual, hmacSha256 } from '../lib/crypto.js';

/** A granted service as the token endpoint sees it. */
export interface GrantedService {
  serviceId: string;
  audience: string;
  /** The granted scopes that the service still offers. */
  scopes: string[];
}

interface StoredSecret {
  id: string;
  hash: string;
  expiresAt: number | null;
  /**
   * HMAC (under a per-process random key) of the secret that last verified against this
   * hash, or undefined. Never the secret itself.
   */
  verifiedDigest: Buffer | undefined;
}

/** Everything the token endpoint needs to know about one client. */
export interface ClientRecord {
  uuid: string;
  clientId: string;
  enabled: boolean;
  expiresAt: number | null;
  authMethod: 'client_secret' | 'private_key_jwt';
  firstName: string | null;
  lastName: string | null;
  roles: string[];
  secrets: StoredSecret[];
  /** Keyed by audience. */
  grants: Map<string, GrantedService>;
  networks: Network[];
}

/** Loads a client with secrets, grants (and their services) and IP ranges in one query. */
export async function loadClientRecord(db: Db, clientId: string): Promise<ClientRecord | undefined> {
  const row = await db.query.clients.findFirst({
    where: eq(clients.clientId, clientId),
    with: { secrets: true, grants: { with: { service: true } }, ipRanges: true },
  });
  if (row === undefined) return undefined;
  return {
    uuid: row.id,
    clientId: row.clientId,
    enabled: row.enabled,
    expiresAt: row.expiresAt?.getTime() ?? null,
    authMethod: row.authMethod,
    firstName: row.firstName,
    lastName: row.lastName,
    roles: row.roles,
    secrets: row.secrets.map((secret) => ({
      id: secret.id,
      hash: secret.hash,
      expiresAt: secret.expiresAt?.getTime() ?? null,
      verifiedDigest: undefined,
    })),
    grants: new Map(
      row.grants.map((grant) => [
        grant.service.audience,
        {
          serviceId: grant.serviceId,
          audience: grant.service.audience,
          scopes: grant.scopes.filter((scope) => grant.service.scopes.includes(scope)),
        },
      ]),
    ),
    networks: parseNetworks(row.ipRanges.map((range) => range.cidr)),
  };
}

/** How long a cached record may be used even if no change was signalled: a safety net. */
const RECORD_MAX_AGE_MS = 60_000;
/** Bound on memory: at most this many clients are cached; the oldest entry goes first. */
const MAX_CACHED_CLIENTS = 10_000;

interface CacheEntry {
  record: Promise<ClientRecord | undefined>;
  loadedAt: number;
}

/**
 * The token endpoint's view of clients: a cache of ClientRecords plus the secret
 * verification cache.
 *
 * Why it is safe: the cache is dropped whole whenever the cache generation moves, and
 * every change that affects authentication (disable, delete, new secret, grants, IP
 * ranges, expiry) moves it in the same transaction. The instance that made the change
 * drops its cache right after the commit; the others within one poll interval (250 ms).
 * A verified secret is remembered only as an HMAC under a random per-process key, attached
 * to the stored hash it verified against: a regenerated secret is a new row and starts
 * unverified, an expired grace secret is refused by its own expiry, and a disabled or
 * expired client never reaches the cache (see authenticate.ts).
 */
export class ClientDirectory {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly digestKey = randomBytes(32);

  constructor(private readonly db: Db) {}

  find(clientId: string): Promise<ClientRecord | undefined> {
    const now = Date.now();
    const cached = this.entries.get(clientId);
    if (cached !== undefined && now - cached.loadedAt < RECORD_MAX_AGE_MS) return cached.record;
    const record = loadClientRecord(this.db, clientId);
    // A failed load is not cached.
    record.catch(() => this.entries.delete(clientId));
    if (this.entries.size >= MAX_CACHED_CLIENTS) this.evictOldest();
    this.entries.set(clientId, { record, loadedAt: now });
    return record;
  }

  /**
   * Does `presented` match one of the client's live secrets? A secret that verified before
   * is recognised by its HMAC in constant time; otherwise each live secret costs one
   * argon2id verification, and a client without live secrets costs one dummy verification.
   */
  async verifySecret(record: ClientRecord, presented: string, now = Date.now()): Promise<boolean> {
    const live = record.secrets.filter((secret) => secret.expiresAt === null || secret.expiresAt > now);
    const digest = hmacSha256(this.digestKey, presented);
    for (const secret of live) {
      if (secret.verifiedDigest !== undefined && constantTimeEqual(secret.verifiedDigest, digest)) return true;
    }
    if (live.length === 0) {
      await verifySecret(await dummySecretHash(), presented);
      return false;
    }
    for (const secret of live) {
      if (await verifySecret(secret.hash, presented)) {
        secret.verifiedDigest = digest;
        return true;
      }
    }
    return false;
  }

  /** Forgets everything; called when the cache generation moves. */
  invalidate(): void {
    this.entries.clear();
  }

  private evictOldest(): void {
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}
