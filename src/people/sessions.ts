import { type Actor, recordChange } from '../audit/events.js';
import type { Db } from '../db/connect.js';
import { bumpGeneration } from '../db/generation.js';
import { evictOldest } from '../lib/cached.js';
import { NotFoundError, ValidationError } from '../lib/errors.js';
import { MAX_PAGE_SIZE } from '../schemas/common.js';
import type { SessionPage } from '../schemas/sessions.js';
import type { CookieKeys } from './cookies.js';
import type { Person } from './person.js';
import {
  alignOtherSessions,
  deleteExpiredSessions,
  deleteSession,
  deleteSessionByTokenHash,
  insertSession,
  liveSessionRows,
  type SessionRow,
  sessionByTokenHash,
  touchSession,
} from './store.js';

/** A person's console session, as the admin API's authentication sees it. */
export interface ConsoleSession extends Person {
  id: string;
  /** Milliseconds since the epoch, all on the app's clock. */
  createdAt: number;
  lastSeenAt: number;
  /** The absolute limit: createdAt + CONSOLE_SESSION_MAX. */
  expiresAt: number;
  /** For RP-initiated logout (id_token_hint); null when the provider gave none. */
  idToken: string | null;
}

export interface SessionLimits {
  /** CONSOLE_SESSION_IDLE, in milliseconds. */
  idleMs: number;
  /** CONSOLE_SESSION_MAX, in milliseconds. */
  maxMs: number;
}

/** What a session cookie leads to. */
export type SessionLookup =
  | { found: true; session: ConsoleSession }
  /** `altered`: not a cookie this Portier made; `ended`: signed out, ended by an admin, or past a limit. */
  | { found: false; reason: 'altered' | 'ended' };

/** How long a cached session may be used without a change having been signalled: a safety net. */
const CACHE_MAX_AGE_MS = 60_000;
/** Bound on memory; the oldest entry goes first. */
const MAX_CACHED_SESSIONS = 10_000;
/** last_seen_at is written at most this often per session (and at least four times per idle period). */
const TOUCH_INTERVAL_MS = 60_000;

interface CacheEntry {
  /** null: the database has no such session. */
  session: ConsoleSession | null;
  loadedAt: number;
}

function toSession(row: SessionRow): ConsoleSession {
  return {
    id: row.id,
    subject: row.subject,
    name: row.name,
    owner: row.owner,
    role: row.role,
    createdAt: row.createdAt.getTime(),
    lastSeenAt: row.lastSeenAt.getTime(),
    expiresAt: row.expiresAt.getTime(),
    idToken: row.idToken,
  };
}

/**
 * People's console sessions, kept in the database so that every instance serves them and
 * they survive restarts, with a cache so that an admin request does not cost a query.
 *
 * The limits are on the app's clock: a session ends CONSOLE_SESSION_IDLE after its last
 * request, and CONSOLE_SESSION_MAX after it began, whatever happens. last_seen_at is
 * written at most once a minute; an instance whose cached copy looks idle reads the
 * database again before it believes it (another instance may have served the person).
 *
 * Ending a session (sign-out, an admin's DELETE) deletes its row and moves the cache
 * generation in the same transaction: the instance that did it forgets the session at
 * once, the others within a generation poll. Sessions past a limit are deleted when next
 * seen, and at every sign-in every expired row is pruned.
 */
export class SessionStore {
  private readonly cache = new Map<string, CacheEntry>();
  /** Moves at every invalidation (see load). */
  private epoch = 0;

  constructor(
    private readonly db: Db,
    private readonly keys: CookieKeys,
    private readonly limits: SessionLimits,
  ) {}

  /**
   * Starts a session for `person` and returns the cookie's value. In the same transaction:
   * the person's other sessions take the role, name and owner of this sign-in (roles are
   * read again at every sign-in, and a person demoted at the provider is demoted
   * everywhere), and expired sessions of anyone are pruned.
   */
  async start(
    person: Person,
    context: { idToken: string | null; ip: string | undefined },
    now: number,
  ): Promise<{ cookie: string; session: ConsoleSession }> {
    const token = this.keys.newSessionToken();
    const { row, othersChanged } = await this.db.transaction(async (tx) => {
      await deleteExpiredSessions(tx, new Date(now), this.idleSince(now));
      const inserted = await insertSession(tx, {
        tokenHash: token.hash,
        subject: person.subject,
        name: person.name,
        owner: person.owner,
        role: person.role,
        idToken: context.idToken,
        ip: context.ip ?? null,
        createdAt: new Date(now),
        lastSeenAt: new Date(now),
        expiresAt: new Date(now + this.limits.maxMs),
      });
      if (inserted === undefined) throw new Error('the new session was not written');
      const changed = await alignOtherSessions(tx, inserted.id, person);
      if (changed) await bumpGeneration(tx, [{ topic: 'sessions' }]);
      return { row: inserted, othersChanged: changed };
    });
    if (othersChanged) this.invalidate();
    return { cookie: token.value, session: toSession(row) };
  }

  /**
   * The live session a cookie value stands for. Refused without a query when the cookie
   * is not one this Portier made (its MAC does not hold); a session past a limit is
   * deleted and refused. A use more than a minute after the last one it recorded moves
   * last_seen_at.
   */
  async find(cookie: string, now: number): Promise<SessionLookup> {
    const hash = this.keys.sessionTokenHash(cookie);
    if (hash === undefined) return { found: false, reason: 'altered' };
    let { session, cached } = await this.load(hash, now, false);
    if (session !== null && cached && this.idle(session, now)) {
      // Idle by this instance's copy: another instance may have served the person since.
      ({ session } = await this.load(hash, now, true));
    }
    if (session === null) return { found: false, reason: 'ended' };
    if (now >= session.expiresAt || this.idle(session, now)) {
      await deleteSession(this.db, session.id);
      this.cache.delete(hash);
      return { found: false, reason: 'ended' };
    }
    if (now - session.lastSeenAt >= Math.min(TOUCH_INTERVAL_MS, this.limits.idleMs / 4)) {
      await touchSession(this.db, session.id, new Date(now));
      session.lastSeenAt = now;
    }
    return { found: true, session };
  }

  /** Signs out: deletes the session a cookie stands for, on every instance. Returns it, if it was live. */
  async end(cookie: string): Promise<ConsoleSession | undefined> {
    const hash = this.keys.sessionTokenHash(cookie);
    if (hash === undefined) return undefined;
    const row = await this.db.transaction(async (tx) => {
      const deleted = await deleteSessionByTokenHash(tx, hash);
      if (deleted !== undefined) await bumpGeneration(tx, [{ topic: 'sessions' }]);
      return deleted;
    });
    // Everything cached here goes, not just this entry: a load already under way must not
    // bring the session back.
    this.invalidate();
    return row === undefined ? undefined : toSession(row);
  }

  /** An admin ends someone's session (DELETE /admin/sessions/{id}), audited. */
  async endById(id: string, actor: Actor): Promise<void> {
    const deleted = await this.db.transaction(async (tx) => {
      const row = await deleteSession(tx, id);
      if (row !== undefined) {
        await recordChange(tx, {
          action: 'session.ended',
          actor,
          details: { session_id: row.id, subject: row.subject, name: row.name, role: row.role },
        });
      }
      return row;
    });
    if (deleted === undefined) throw new NotFoundError(`no session with id "${id}"`);
    this.invalidate();
  }

  /** The live sessions, oldest first, a page at a time (the cursor is the last id seen). */
  async list(now: number, page: { limit?: number | undefined; cursor?: string | undefined } = {}): Promise<SessionPage> {
    const limit = Math.min(Math.max(page.limit ?? 50, 1), MAX_PAGE_SIZE);
    if (page.cursor !== undefined && !UUID.test(page.cursor)) {
      throw new ValidationError([{ path: '/cursor', message: 'is not a cursor this server issued' }]);
    }
    const rows = await liveSessionRows(this.db, new Date(now), this.idleSince(now), { after: page.cursor, limit: limit + 1 });
    const items = rows.slice(0, limit).map((row) => ({
      id: row.id,
      subject: row.subject,
      name: row.name,
      owner: row.owner,
      role: row.role,
      ip: row.ip,
      created_at: row.createdAt.toISOString(),
      last_seen_at: row.lastSeenAt.toISOString(),
      expires_at: new Date(Math.min(row.expiresAt.getTime(), row.lastSeenAt.getTime() + this.limits.idleMs)).toISOString(),
    }));
    const last = items.at(-1);
    return { items, next_cursor: rows.length > limit && last !== undefined ? last.id : null };
  }

  /** Forgets every cached session: the cache generation moved (a session ended somewhere). */
  invalidate(): void {
    this.cache.clear();
    this.epoch += 1;
  }

  private idle(session: ConsoleSession, now: number): boolean {
    return now - session.lastSeenAt >= this.limits.idleMs;
  }

  /** A session last seen at or before this is idle at `now`. */
  private idleSince(now: number): Date {
    return new Date(now - this.limits.idleMs);
  }

  /**
   * The session of a token hash, from the cache unless `reload`. A load that an
   * invalidation overtook is used for this request but not kept: it may predate the
   * sign-out that caused the invalidation.
   */
  private async load(hash: string, now: number, reload: boolean): Promise<{ session: ConsoleSession | null; cached: boolean }> {
    const cached = this.cache.get(hash);
    if (!reload && cached !== undefined && now >= cached.loadedAt && now - cached.loadedAt < CACHE_MAX_AGE_MS) {
      return { session: cached.session, cached: true };
    }
    const epoch = this.epoch;
    const row = await sessionByTokenHash(this.db, hash);
    const session = row === undefined ? null : toSession(row);
    if (epoch === this.epoch) {
      this.cache.delete(hash);
      if (this.cache.size >= MAX_CACHED_SESSIONS) evictOldest(this.cache);
      this.cache.set(hash, { session, loadedAt: now });
    }
    return { session, cached: false };
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
