import type { Config, OidcConfig } from '../config.js';
import type { Db } from '../db/connect.js';
import type { Clock } from '../lib/clock.js';
import { CookieKeys, CookieNames } from './cookies.js';
import { IdentityProvider } from './oidc.js';
import { SessionStore } from './sessions.js';

/** The paths of people's sign-in, each defined once. */
export const SIGN_IN_PATHS = {
  login: '/console/auth/login',
  callback: '/console/auth/callback',
  logout: '/console/auth/logout',
  session: '/console/auth/session',
} as const;

/** Where the browser lands after signing in. */
export const CONSOLE_HOME = '/console/clients';

/** Everything about people of one Portier instance; undefined when OIDC_ISSUER is not set. */
export interface People {
  settings: OidcConfig;
  provider: IdentityProvider;
  sessions: SessionStore;
  keys: CookieKeys;
  cookies: CookieNames;
  /** Portier's own origin (of ISSUER): what every cookie-authenticated change must come from. */
  origin: string;
  issuer: string;
}

/** People's sign-in and sessions for one instance, from the configuration; undefined without OIDC_ISSUER. */
export function createPeople(config: Config, db: Db, clock: Clock, sharedKey: Buffer): People | undefined {
  if (config.oidc === undefined) return undefined;
  const keys = new CookieKeys(sharedKey);
  return {
    settings: config.oidc,
    provider: new IdentityProvider(config.oidc, `${config.issuer}${SIGN_IN_PATHS.callback}`, clock),
    sessions: new SessionStore(db, keys, {
      idleMs: config.console.sessionIdleSeconds * 1000,
      maxMs: config.console.sessionMaxSeconds * 1000,
    }),
    keys,
    cookies: new CookieNames(new URL(config.issuer).protocol === 'https:'),
    origin: new URL(config.issuer).origin,
    issuer: config.issuer,
  };
}
