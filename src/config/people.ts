/**
 * The variables of people's sign-in (OIDC_*) and of the console's sessions (CONSOLE_*):
 * their declarations for the configuration table (config/variables.ts) and how each group
 * is read. They are read together because of the rules between them: every OIDC_* variable
 * means nothing without OIDC_ISSUER, and the console must keep a way in.
 */

import { type PemFile, pemFile } from './formats.js';
import { BadValue, boolean, ConfigError, computed, custom, type Env, integer, nonEmpty, Setting, unset } from './kinds.js';

/** Portier as a confidential client of an OpenID Connect provider (see src/people/). */
export interface OidcConfig {
  /** OIDC_ISSUER: discovery is read from `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** OIDC_SCOPES, always with `openid`. */
  scopes: string[];
  /** OIDC_ROLES_CLAIM: the claim that lists a person's groups (or roles). */
  rolesClaim: string;
  adminRoles: string[];
  auditorRoles: string[];
  /** OIDC_OPERATOR_ROLES; `*` stands for anyone the provider signs in. */
  operatorRoles: string[];
  /** OIDC_OWNER_CLAIM: the claim whose value is the `owner` of the person's clients. */
  ownerClaim: string;
  /** OIDC_CA_FILE and its PEM contents: CA certificate(s) trusted for the provider, besides Node's. */
  ca: PemFile | undefined;
  /** OIDC_NAME: the provider's name on the console's sign-in button; undefined: "your organisation". */
  name: string | undefined;
}

export interface ConsoleConfig {
  /** CONSOLE_SESSION_IDLE: a person's session ends after this many seconds without a request. */
  sessionIdleSeconds: number;
  /** CONSOLE_SESSION_MAX: and after this many seconds in all, however busy. */
  sessionMaxSeconds: number;
  /** CONSOLE_CLIENT_SIGN_IN: the console offers sign-in with an admin client's credentials (break-glass). */
  clientSignIn: boolean;
}

/**
 * An https URL, or http for a provider on this machine (a development IdP): anywhere else
 * plain http would carry the authorization code and the client secret in clear.
 */
function oidcIssuer(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadValue(`is not a valid URL, got "${value}"`);
  }
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(value)) throw new BadValue('must not contain a query or fragment');
  if (url.username !== '' || url.password !== '') throw new BadValue('must not contain credentials');
  if (url.protocol === 'https:') return value;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return value;
  throw new BadValue('must be an https:// URL (http:// only for localhost and loopback addresses)');
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

function oidcScopes(value: string): string[] {
  const scopes = [...new Set(value.split(/\s+/))];
  const bad = scopes.find((scope) => !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope));
  if (bad !== undefined) throw new BadValue(`"${bad}" is not a scope (RFC 6749 §3.3)`);
  if (!scopes.includes('openid')) throw new BadValue('must include openid');
  return scopes;
}

function claimName(value: string): string {
  if (!/^[\x21-\x7e]{1,200}$/.test(value)) throw new BadValue(`must be a claim name (no spaces), got "${value}"`);
  return value;
}

/** A comma-separated list of group (or role) names; `*` (anyone) only where `anyone` allows it. */
function roleList(anyone: boolean): (value: string) => string[] {
  return (value) => {
    const roles = [...new Set(value.split(',').map((role) => role.trim()))];
    if (roles.some((role) => role === '')) throw new BadValue('has an empty entry (a comma-separated list of group names)');
    if (!anyone && roles.includes('*')) throw new BadValue('"*" (anyone) is only for OIDC_OPERATOR_ROLES');
    return roles;
  };
}

function providerName(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  if (value.length > 100 || /[\x00-\x1f\x7f]/.test(value)) throw new BadValue('must be one line of at most 100 characters');
  return value;
}

/** A list's default, documented as the variable would be set (in backquotes). */
function listDefault(text: string, parse: (value: string) => string[]) {
  return computed(`\`${text}\``, () => parse(text));
}

/** The OIDC_* variables, one entry each; `oidc` in the table reads them together (readOidc). */
export const OIDC = {
  issuer: custom({
    name: 'OIDC_ISSUER',
    doc: "the organisation's OpenID Connect provider, for people's sign-in to the console (see [Single sign-on](sso.md)); discovery is read from `<OIDC_ISSUER>/.well-known/openid-configuration`",
    values: '`https://…`, or `http://` for `localhost` and loopback addresses only',
    default: unset('no SSO'),
    parse: oidcIssuer,
  }),
  clientId: custom({
    name: 'OIDC_CLIENT_ID',
    doc: "Portier's registration at the provider: a confidential client using `client_secret_basic`, redirect URI `<ISSUER>/console/auth/callback`",
    values: 'the client ID the provider gave',
    default: computed('unset (required with `OIDC_ISSUER`)', () => undefined),
    parse: (value) => value,
  }),
  clientSecret: new Setting(
    [
      {
        name: 'OIDC_CLIENT_SECRET',
        doc: "Portier's client secret at the provider, taken verbatim",
        values: 'the client secret the provider gave',
        documentedDefault: 'unset (required with `OIDC_ISSUER`)',
      },
    ],
    // Taken verbatim, like every secret: only an empty value counts as unset.
    (env): string | undefined => (env.OIDC_CLIENT_SECRET === '' ? undefined : env.OIDC_CLIENT_SECRET),
  ),
  scopes: custom({
    name: 'OIDC_SCOPES',
    doc: 'the scopes asked for',
    values: 'space-separated scopes, with `openid`',
    default: listDefault('openid profile email', oidcScopes),
    parse: oidcScopes,
  }),
  rolesClaim: custom({
    name: 'OIDC_ROLES_CLAIM',
    doc: "the claim (ID token or userinfo) that lists a person's groups or roles; a name with dots that is not itself a claim is followed as a path (`realm_access.roles`)",
    values: 'a claim name',
    default: 'groups',
    parse: claimName,
  }),
  adminRoles: custom({
    name: 'OIDC_ADMIN_ROLES',
    doc: 'groups whose members are **admins** (everything; see [Roles](sso.md#roles))',
    values: 'comma-separated group names',
    default: listDefault('portier-admin', roleList(false)),
    parse: roleList(false),
  }),
  auditorRoles: custom({
    name: 'OIDC_AUDITOR_ROLES',
    doc: 'groups whose members are **auditors** (read everything, change nothing)',
    values: 'comma-separated group names',
    default: listDefault('portier-auditor', roleList(false)),
    parse: roleList(false),
  }),
  operatorRoles: custom({
    name: 'OIDC_OPERATOR_ROLES',
    doc: 'groups whose members are **operators** (self-service on their own clients)',
    values: 'comma-separated group names, or `*`: anyone the provider signs in',
    default: listDefault('*', roleList(true)),
    parse: roleList(true),
  }),
  ownerClaim: custom({
    name: 'OIDC_OWNER_CLAIM',
    doc: "the claim whose value is the `owner` of a person's clients",
    values: 'a claim name',
    default: 'email',
    parse: claimName,
  }),
  ca: custom({
    name: 'OIDC_CA_FILE',
    doc: "CA certificate(s) trusted for the provider, besides Node's own",
    values: 'a PEM file',
    default: unset(),
    parse: pemFile,
  }),
  name: custom({
    name: 'OIDC_NAME',
    doc: 'the provider\'s name on the console\'s button ("Sign in with …")',
    values: 'one line of at most 100 characters',
    default: unset('"your organisation"'),
    parse: providerName,
  }),
};

/** Every variable of a group of entries, for the one entry of the table that reads them together. */
export function variablesOf(group: Record<string, Setting<unknown>>) {
  return Object.values(group).flatMap((entry) => entry.variables);
}

/** OIDC_*: undefined without OIDC_ISSUER (no other OIDC_* may then be set); otherwise all of it, checked. */
export function readOidc(env: Env): OidcConfig | undefined {
  // Every variable is read whatever the others say, so that a misspelt value never hides.
  const issuer = OIDC.issuer.read(env);
  const settings = {
    clientId: OIDC.clientId.read(env),
    clientSecret: OIDC.clientSecret.read(env),
    scopes: OIDC.scopes.read(env),
    rolesClaim: OIDC.rolesClaim.read(env),
    adminRoles: OIDC.adminRoles.read(env),
    auditorRoles: OIDC.auditorRoles.read(env),
    operatorRoles: OIDC.operatorRoles.read(env),
    ownerClaim: OIDC.ownerClaim.read(env),
    ca: OIDC.ca.read(env),
    name: OIDC.name.read(env),
  };
  if (issuer === undefined) {
    const orphan = Object.values(OIDC).find((entry) => entry !== OIDC.issuer && isSet(env, entry));
    if (orphan !== undefined)
      throw new ConfigError(variableName(orphan), 'is set, but OIDC_ISSUER is not (no sign-in through OpenID Connect)');
    return undefined;
  }
  const { clientId, clientSecret } = settings;
  if (clientId === undefined) throw new ConfigError('OIDC_CLIENT_ID', 'must be set when OIDC_ISSUER is');
  if (clientSecret === undefined) {
    throw new ConfigError('OIDC_CLIENT_SECRET', 'must be set when OIDC_ISSUER is (Portier is a confidential client, client_secret_basic)');
  }
  return { issuer, ...settings, clientId, clientSecret };
}

function variableName(entry: Setting<unknown>): string {
  return entry.variables[0]?.name ?? '';
}

function isSet(env: Env, entry: Setting<unknown>): boolean {
  return nonEmpty(env[variableName(entry)]) !== undefined;
}

/** The CONSOLE_* variables, one entry each; `console` in the table reads them together (readConsole). */
export const CONSOLE = {
  sessionIdleSeconds: integer({
    name: 'CONSOLE_SESSION_IDLE',
    doc: "seconds without a request after which a person's console session ends (at most `CONSOLE_SESSION_MAX`)",
    default: 1800,
    min: 60,
    max: 86_400,
    unit: 'seconds',
  }),
  sessionMaxSeconds: integer({
    name: 'CONSOLE_SESSION_MAX',
    doc: "seconds after sign-in at which a person's console session ends however busy",
    default: 43_200,
    min: 300,
    max: 2_592_000,
    unit: 'seconds',
  }),
  clientSignIn: boolean({
    name: 'CONSOLE_CLIENT_SIGN_IN',
    doc: "`false`: the console no longer offers sign-in with an admin client's credentials (only with `OIDC_ISSUER`); the admin API and the CLI are not affected",
    default: true,
  }),
};

/** CONSOLE_*: an idle limit within the absolute one, and a way into the console that remains. */
export function readConsole(env: Env): ConsoleConfig {
  const sessionMaxSeconds = CONSOLE.sessionMaxSeconds.read(env);
  const sessionIdleSeconds = CONSOLE.sessionIdleSeconds.read(env);
  if (sessionIdleSeconds > sessionMaxSeconds) {
    throw new ConfigError('CONSOLE_SESSION_IDLE', `must not be longer than CONSOLE_SESSION_MAX (${sessionMaxSeconds} seconds)`);
  }
  const clientSignIn = CONSOLE.clientSignIn.read(env);
  if (!clientSignIn && OIDC.issuer.read(env) === undefined) {
    throw new ConfigError('CONSOLE_CLIENT_SIGN_IN', 'is false, but OIDC_ISSUER is not set: nobody could sign in to the console');
  }
  return { sessionIdleSeconds, sessionMaxSeconds, clientSignIn };
}
