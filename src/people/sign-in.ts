import type { Db } from '../db/connect.js';
import { constantTimeEqual } from '../lib/crypto.js';
import { cookieValues, type PendingLogin } from './cookies.js';
import type { People } from './people.js';
import { personFromClaims } from './person.js';
import type { ConsoleSession } from './sessions.js';
import { claimLoginState } from './store.js';

/**
 * The callback does not belong to a sign-in this browser started here, or belongs to
 * one that is over: no login cookie, one that was altered or has expired, a `state` that
 * is missing or not the cookie's, or a `state` already used once. Nothing is exchanged.
 */
export class SignInMismatch extends Error {
  override readonly name = 'SignInMismatch';
}

/** What the callback's query and cookies must show before anything is exchanged. */
function pendingLoginOf(people: People, query: URLSearchParams, cookieHeader: string | undefined, now: number): PendingLogin {
  const state = query.get('state');
  if (state === null || state === '') throw new SignInMismatch('the answer carries no state');
  const logins = cookieValues(cookieHeader, people.cookies.login).map((value) => people.keys.openLogin(value));
  const login = logins.find((candidate) => candidate !== undefined && constantTimeEqual(Buffer.from(candidate.state), Buffer.from(state)));
  if (login === undefined) {
    throw new SignInMismatch(
      logins.some((candidate) => candidate !== undefined)
        ? 'the state is not the one of the sign-in this browser started'
        : 'no sign-in was started in this browser (no valid login cookie)',
    );
  }
  if (now >= login.expiresAt) throw new SignInMismatch('the sign-in took longer than 10 minutes');
  return login;
}

/**
 * Marks a sign-in's state as used, once for all instances: a callback replayed, even with
 * its cookie, finds it used.
 */
function claimState(db: Db, state: string, expiresAt: number, now: number): Promise<boolean> {
  return claimLoginState(db, state, new Date(expiresAt), new Date(now));
}

/**
 * The steps of the callback: the state checked against the login cookie and used once,
 * the code exchanged and the ID token verified (IdentityProvider.finish), the person and
 * their role read from the claims (personFromClaims: refused without the owner claim or
 * a role), then their session.
 */
export async function finishSignIn(
  people: People,
  db: Db,
  request: { query: string; cookieHeader: string | undefined; ip: string },
  now: number,
): Promise<{ cookie: string; session: ConsoleSession }> {
  const query = new URLSearchParams(request.query);
  const login = pendingLoginOf(people, query, request.cookieHeader, now);
  if (!(await claimState(db, login.state, login.expiresAt, now))) throw new SignInMismatch('this sign-in has already been used');
  const { claims, idToken } = await people.provider.finish(request.query, login);
  // `iss` is the ID token's, which openid-client has checked against the discovered issuer.
  const issuer = typeof claims.iss === 'string' ? claims.iss : people.settings.issuer;
  const person = personFromClaims(issuer, claims, people.settings);
  return people.sessions.start(person, { idToken, ip: request.ip }, now);
}
