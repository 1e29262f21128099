import { and, asc, eq, gt, lte, ne, or } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/connect.js';
import { consoleSessions, usedJwtIds } from '../db/schema.js';

/**
 * What people/ keeps in tables, and the only module of people/ that queries them: the
 * console sessions (their rules and cache are sessions.ts's) and the states of sign-ins
 * used once (in used_jwt_ids under their own scope).
 */

const STATE_SCOPE = 'console_login_state';

/**
 * Marks a sign-in's state as used, once for all instances (the primary key of
 * used_jwt_ids refuses the second); false when it was used before. Rows of expired
 * sign-ins go at the same time.
 */
export async function claimLoginState(db: Db, state: string, expiresAt: Date, now: Date): Promise<boolean> {
  await db.delete(usedJwtIds).where(and(eq(usedJwtIds.scope, STATE_SCOPE), lte(usedJwtIds.expiresAt, now)));
  const inserted = await db
    .insert(usedJwtIds)
    .values({ scope: STATE_SCOPE, jti: state, expiresAt })
    .onConflictDoNothing()
    .returning({ jti: usedJwtIds.jti });
  return inserted.length > 0;
}

export type SessionRow = typeof consoleSessions.$inferSelect;
export type NewSessionRow = typeof consoleSessions.$inferInsert;

/** Writes a new session; returns its row (with its id). */
export async function insertSession(tx: DbOrTx, row: NewSessionRow): Promise<SessionRow | undefined> {
  const [inserted] = await tx.insert(consoleSessions).values(row).returning();
  return inserted;
}

/** The session of a cookie's token hash. */
export async function sessionByTokenHash(db: DbOrTx, tokenHash: string): Promise<SessionRow | undefined> {
  const [row] = await db.select().from(consoleSessions).where(eq(consoleSessions.tokenHash, tokenHash));
  return row;
}

/**
 * Gives the person's sessions other than `exceptId` this role, name and owner where they
 * differ; whether any changed.
 */
export async function alignOtherSessions(
  tx: DbOrTx,
  exceptId: string,
  person: Pick<SessionRow, 'subject' | 'name' | 'owner' | 'role'>,
): Promise<boolean> {
  const changed = await tx
    .update(consoleSessions)
    .set({ name: person.name, owner: person.owner, role: person.role })
    .where(
      and(
        eq(consoleSessions.subject, person.subject),
        ne(consoleSessions.id, exceptId),
        or(ne(consoleSessions.role, person.role), ne(consoleSessions.owner, person.owner), ne(consoleSessions.name, person.name)),
      ),
    )
    .returning({ id: consoleSessions.id });
  return changed.length > 0;
}

/** Moves a session's last_seen_at to `at`, unless another request already moved it later. */
export async function touchSession(db: DbOrTx, id: string, at: Date): Promise<void> {
  await db
    .update(consoleSessions)
    .set({ lastSeenAt: at })
    .where(and(eq(consoleSessions.id, id), lte(consoleSessions.lastSeenAt, at)));
}

/** Deletes the sessions past a limit: those expiring by `now`, and those last seen by `idleSince`. */
export async function deleteExpiredSessions(tx: DbOrTx, now: Date, idleSince: Date): Promise<void> {
  await tx.delete(consoleSessions).where(or(lte(consoleSessions.expiresAt, now), lte(consoleSessions.lastSeenAt, idleSince)));
}

/** Deletes the session `id`; returns its row, if there was one. */
export async function deleteSession(tx: DbOrTx, id: string): Promise<SessionRow | undefined> {
  const [row] = await tx.delete(consoleSessions).where(eq(consoleSessions.id, id)).returning();
  return row;
}

/** Deletes the session of a cookie's token hash; returns its row, if there was one. */
export async function deleteSessionByTokenHash(tx: DbOrTx, tokenHash: string): Promise<SessionRow | undefined> {
  const [row] = await tx.delete(consoleSessions).where(eq(consoleSessions.tokenHash, tokenHash)).returning();
  return row;
}

/**
 * Up to `limit` sessions live at `now` (expiring after it, last seen after `idleSince`), by
 * id, from after the id `after` when given.
 */
export async function liveSessionRows(
  db: DbOrTx,
  now: Date,
  idleSince: Date,
  page: { after?: string | undefined; limit: number },
): Promise<SessionRow[]> {
  return db
    .select()
    .from(consoleSessions)
    .where(
      and(
        gt(consoleSessions.expiresAt, now),
        gt(consoleSessions.lastSeenAt, idleSince),
        page.after === undefined ? undefined : gt(consoleSessions.id, page.after),
      ),
    )
    .orderBy(asc(consoleSessions.id))
    .limit(page.limit);
}
