import { createHash, hkdfSync } from 'node:crypto';
import { constantTimeEqual, decryptAtRest, hmacSha256, randomBase64Url, sealAtRest } from '../lib/crypto.js';
import { SESSION_TOKEN_PREFIX } from '../lib/redact.js';

/**
 * The two cookies of a person's sign-in, and what is in them:
 *
 * - the session cookie holds a random token and its MAC. The database keeps only the
 *   token's SHA-256, so neither a copy of the table nor a log line can be turned back
 *   into a cookie; the MAC lets every instance refuse an altered or made-up cookie without
 *   asking the database.
 * - the login cookie carries what the callback needs of the sign-in it started (state,
 *   nonce, PKCE verifier), sealed (AES-256-GCM), for ten minutes, so that nothing is
 *   written anywhere until the provider has answered.
 *
 * Both keys come from one random key shared by the instances (db/settings.ts).
 */
export class CookieKeys {
  private readonly mac: Buffer;
  private readonly seal: Buffer;

  constructor(sharedKey: Buffer) {
    this.mac = Buffer.from(hkdfSync('sha256', sharedKey, Buffer.alloc(0), 'portier console session token', 32));
    this.seal = Buffer.from(hkdfSync('sha256', sharedKey, Buffer.alloc(0), 'portier console login', 32));
  }

  /** A new session token: the cookie's value, and what the database stores of it. */
  newSessionToken(): { value: string; hash: string } {
    const token = randomBase64Url(TOKEN_BYTES);
    return { value: `${SESSION_TOKEN_PREFIX}${token}${this.macOf(token)}`, hash: tokenHash(token) };
  }

  /** The stored hash of a session cookie's token, or undefined when the cookie is not one this Portier made. */
  sessionTokenHash(value: string): string | undefined {
    if (value.length !== SESSION_COOKIE_LENGTH || !value.startsWith(SESSION_TOKEN_PREFIX)) return undefined;
    const token = value.slice(SESSION_TOKEN_PREFIX.length, SESSION_TOKEN_PREFIX.length + TOKEN_LENGTH);
    const mac = value.slice(SESSION_TOKEN_PREFIX.length + TOKEN_LENGTH);
    if (!constantTimeEqual(Buffer.from(mac), Buffer.from(this.macOf(token)))) return undefined;
    return tokenHash(token);
  }

  sealLogin(login: PendingLogin): string {
    return sealAtRest(this.seal, JSON.stringify(login), LOGIN_BINDING);
  }

  /** The sign-in a login cookie stands for, or undefined when it was altered or is not one. */
  openLogin(value: string): PendingLogin | undefined {
    try {
      const parsed: unknown = JSON.parse(decryptAtRest(this.seal, value, LOGIN_BINDING));
      return isPendingLogin(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  private macOf(token: string): string {
    return hmacSha256(this.mac, token).subarray(0, MAC_BYTES).toString('base64url');
  }
}

const TOKEN_BYTES = 32;
const MAC_BYTES = 16;
const TOKEN_LENGTH = Math.ceil((TOKEN_BYTES * 4) / 3);
const SESSION_COOKIE_LENGTH = SESSION_TOKEN_PREFIX.length + TOKEN_LENGTH + Math.ceil((MAC_BYTES * 4) / 3);
const LOGIN_BINDING = 'portier console login';

function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** A sign-in begun at the provider and not yet finished: what its callback must check. */
export interface PendingLogin {
  state: string;
  nonce: string;
  /** The PKCE code_verifier (RFC 7636), S256. */
  verifier: string;
  /** Milliseconds since the epoch, on the app's clock. */
  expiresAt: number;
}

function isPendingLogin(value: unknown): value is PendingLogin {
  if (typeof value !== 'object' || value === null) return false;
  const login = value as Record<string, unknown>;
  return (
    typeof login.state === 'string' &&
    typeof login.nonce === 'string' &&
    typeof login.verifier === 'string' &&
    typeof login.expiresAt === 'number'
  );
}

/** How long a sign-in may take at the provider. */
export const LOGIN_TTL_MS = 10 * 60_000;

/**
 * The cookies' names and attributes. Over https they carry the `__Host-` and `__Secure-`
 * prefixes, which a browser accepts only from a secure origin (and, for `__Host-`, only
 * with Path=/ and no Domain): a neighbouring subdomain cannot plant one.
 */
export class CookieNames {
  readonly session: string;
  readonly login: string;

  constructor(readonly secure: boolean) {
    this.session = secure ? '__Host-portier_session' : 'portier_session';
    this.login = secure ? '__Secure-portier_login' : 'portier_login';
  }

  /**
   * The session cookie: HttpOnly (no script reads it), SameSite=Lax (not sent with a
   * cross-site POST; every cookie-authenticated change must also carry Portier's Origin),
   * Path=/ (the admin API and the console), Secure over https. No Max-Age: it ends with
   * the browser, and the server's idle and absolute limits end it sooner.
   */
  sessionCookie(value: string): string {
    return `${this.session}=${value}; Path=/; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}`;
  }

  clearSession(): string {
    return `${this.session}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}`;
  }

  /** Lax, so that it comes back with the provider's redirect (a top-level GET from another site). */
  loginCookie(value: string): string {
    return `${this.login}=${value}; Path=${LOGIN_COOKIE_PATH}; Max-Age=${LOGIN_TTL_MS / 1000}; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}`;
  }

  clearLogin(): string {
    return `${this.login}=; Path=${LOGIN_COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}`;
  }
}

const LOGIN_COOKIE_PATH = '/console/auth';

/**
 * Every value of the cookie `name` in a Cookie header (RFC 6265 §5.4), in order. A browser
 * may send two of one name (one set for a narrower path, or planted by a neighbour): the
 * caller tries each.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined || !header.includes(name)) return [];
  const values: string[] = [];
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at).trim() !== name) continue;
    values.push(pair.slice(at + 1).trim());
  }
  return values;
}
