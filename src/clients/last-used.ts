import { sql } from 'drizzle-orm';
import type { Db } from '../db/connect.js';
import type { FederatedIdentityUse } from '../federation/identities.js';

/**
 * last_used_at is written at most this often (the admin API promises it "within 60 s of
 * use", docs/admin-api.md). The instance that issued the token shows it at once
 * (withPendingUse); other instances see it after the next write.
 */
export const LAST_USED_FLUSH_MS = 5_000;

/**
 * Remembers when each client last got a token, with which of its credentials (a secret or
 * a registered key), and with which platform identity if it signed in with a platform's
 * JWT (federated), and writes all of them in two UPDATEs (clients, credentials) every
 * LAST_USED_FLUSH_MS instead of one write per token request. A flush never moves a
 * last_used_at backwards (several instances may flush the same client); the identity is
 * written with the time it came with.
 */
export class LastUsedTracker {
  private pending = new Map<string, Date>();
  /** The identity of each pending use that had one (kept apart: a secret's use adds nothing here). */
  private identities = new Map<string, FederatedIdentityUse>();
  /** When each credential was last used, by credential id. */
  private credentials = new Map<string, Date>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly onError: (error: unknown) => void,
  ) {}

  record(clientUuid: string, at: Date, identity?: FederatedIdentityUse, credentialId?: string): void {
    this.pending.set(clientUuid, at);
    if (credentialId !== undefined) this.credentials.set(credentialId, at);
    if (identity !== undefined) this.identities.set(clientUuid, identity);
    else if (this.identities.size > 0) this.identities.delete(clientUuid);
  }

  /**
   * The client as this instance knows it: with a use recorded here but not yet written
   * when that is newer than the stored one, so the console shows a token at once.
   */
  withPendingUse<T extends { service_account: { id: string }; last_used_at: string | null; last_used_identity: unknown }>(client: T): T {
    const pending = this.pending.get(client.service_account.id);
    if (pending === undefined) return client;
    if (client.last_used_at !== null && Date.parse(client.last_used_at) >= pending.getTime()) return client;
    const identity = this.identities.get(client.service_account.id);
    return { ...client, last_used_at: pending.toISOString(), last_used_identity: identity ?? null };
  }

  start(intervalMs = LAST_USED_FLUSH_MS): void {
    this.timer = setInterval(() => {
      this.flush().catch(this.onError);
    }, intervalMs).unref();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    const identities = this.identities;
    const credentials = this.credentials;
    this.pending = new Map();
    this.identities = new Map();
    this.credentials = new Map();
    const values = sql.join(
      [...batch].map(([uuid, at]) => {
        const identity = identities.get(uuid);
        return sql`(${uuid}::uuid, ${at.toISOString()}::timestamptz, ${identity === undefined ? null : JSON.stringify(identity)}::jsonb)`;
      }),
      sql`, `,
    );
    try {
      await this.db.execute(sql`
        UPDATE clients SET last_used_at = used.at, last_used_identity = used.identity
        FROM (VALUES ${values}) AS used(id, at, identity)
        WHERE clients.id = used.id AND (clients.last_used_at IS NULL OR clients.last_used_at < used.at)`);
      if (credentials.size > 0) {
        const used = sql.join(
          [...credentials].map(([id, at]) => sql`(${id}::text, ${at.toISOString()}::timestamptz)`),
          sql`, `,
        );
        await this.db.execute(sql`
          UPDATE client_credentials SET last_used_at = used.at
          FROM (VALUES ${used}) AS used(id, at)
          WHERE client_credentials.id = used.id AND (client_credentials.last_used_at IS NULL OR client_credentials.last_used_at < used.at)`);
      }
    } catch (error) {
      // Keep the newer of what failed and what arrived since, for the next flush.
      for (const [uuid, at] of batch) {
        if (this.pending.has(uuid)) continue;
        this.pending.set(uuid, at);
        const identity = identities.get(uuid);
        if (identity !== undefined) this.identities.set(uuid, identity);
      }
      for (const [id, at] of credentials) if (!this.credentials.has(id)) this.credentials.set(id, at);
      throw error;
    }
  }

  /** Stops the timer and writes what is pending. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
