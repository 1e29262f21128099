import { decodeJwt, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import type { ClientDirectory } from '../clients/directory.js';
import type { ClientRecord } from '../clients/record.js';
import { clientStatus, isValidClientId } from '../clients/rules.js';
import { MAX_ACCESS_TOKEN_TTL } from '../config.js';
import { type FederatedIdentityUse, isIdentitySubject } from '../federation/identities.js';
import type { TrustedIssuerCache } from '../federation/platform-tokens.js';
import type { KeyCache } from '../keys/cache.js';
import type { Clock } from '../lib/clock.js';
import { isValidScopeToken } from '../lib/syntax.js';
import { LATEST_TIMESTAMP } from '../lib/time.js';
import { type Claims, withoutReserved } from '../policy/claims.js';
import { TRUSTED_ISSUER_ID_PATTERN } from '../schemas/limits.js';
import { isStorableJwtId } from './client-auth/jwt-ids.js';
import { type ActClaim, type MayActClaim, readActClaim, readMayActClaim } from './delegation.js';
import { FEDERATED_IDENTITY_CLAIM } from './issue.js';
import type { RevocationList } from './revocations.js';

/** What checking an access token needs: this server's issuer, keys, clients and revocations. */
export interface AccessTokenContext {
  issuer: string;
  clock: Clock;
  keys: KeyCache;
  directory: ClientDirectory;
  revocations: RevocationList;
  /** Tokens whose signature verified already (see VerifiedTokens); none: every check verifies. */
  verifiedTokens?: VerifiedTokens | undefined;
}

/** At most this many verified tokens are remembered; the oldest goes first. */
const MAX_VERIFIED_TOKENS = 5_000;

/**
 * A token whose signature, issuer, type and required claims verified: its payload and the
 * claims Portier reads of it (readTokenClaims; null: one of them is not of the form Portier
 * writes). The claims are a function of the payload alone (the one check that involves the
 * time, a lifetime longer than Portier gives, can only pass later if it passed once), so
 * they are read once per token, not on every use. Shared between requests: never changed.
 */
interface VerifiedToken {
  readonly payload: JWTPayload;
  readonly claims: TokenClaims | null;
}

/** What readTokenClaims makes of a payload: a client's token, or one of a trusted issuer's subject. */
type TokenClaims = { readonly client: AccessTokenClaims } | { readonly external: ExternalSubjectClaims };

/**
 * The access tokens whose signature, issuer and type have verified, by the token itself,
 * with their claims read: a service exchanges the same caller's token on every call it
 * makes for that caller (token exchange), and an ES256 signature check costs more than
 * signing the new token. Only the same bytes find an entry; each is good while the key set
 * it verified against is the current one (a rotation or an emergency withdrawal starts
 * afresh) and the token has not expired. Everything that can change after the signature
 * (the audience asked for, the client, revocation, a trusted issuer's standing, binding,
 * policy) is checked on every use, from caches that every change invalidates.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { verified: VerifiedToken; keys: object }>();

  get(token: string, keys: object, now: number): VerifiedToken | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    const { exp } = entry.verified.payload;
    if (entry.keys !== keys || typeof exp !== 'number' || exp <= Math.floor(now / 1000)) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.verified;
  }

  /** Whether `token` verified here before (the entry may be out of date: only a hint of whose it is). */
  has(token: string): boolean {
    return this.entries.has(token);
  }

  set(token: string, keys: object, verified: VerifiedToken): void {
    if (this.entries.size >= MAX_VERIFIED_TOKENS) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { verified, keys });
  }
}

/**
 * The claims of a verified access token that Portier acts on, each checked to be what
 * issueAccessToken writes (see readAccessTokenClaims). Nothing else of a token is used.
 */
export interface AccessTokenClaims {
  clientId: string;
  /** The service account's UUID. */
  sub: string;
  jti: string;
  /** Space-separated scope tokens; may be empty. */
  scope: string;
  /** Seconds since the epoch. */
  exp: number;
  iat: number | undefined;
  aud: string | string[];
  iss: string;
  /** RFC 9449 §6.1: the thumbprint of the key a DPoP-bound token is bound to; undefined for a bearer token. */
  jkt: string | undefined;
  /** RFC 8705 §3.1: the SHA-256 thumbprint of the TLS client certificate a bound token is bound to; undefined otherwise. */
  x5t: string | undefined;
  /** A federated client's token: the platform identity (trusted issuer id, subject) that got it. */
  federatedIdentity: FederatedIdentityUse | undefined;
  /** A token got by token exchange (RFC 8693 §4.1): the actor, with the actors before it nested. */
  act: ActClaim | undefined;
  /** RFC 8693 §4.4: the clients that may act for this token's client. */
  mayAct: MayActClaim | undefined;
  /**
   * The custom claims (its client's, its services', the issuance hook's): every claim whose
   * name is not reserved. Never used for a decision or a lookup, only shown by introspection.
   */
  custom: Claims;
}

export type AccessTokenCheck =
  | { active: true; claims: AccessTokenClaims; client: ClientRecord }
  /** `reason` says why, for the admin API's 401 and the logs; introspection only says `active: false`. */
  | { active: false; reason: string };

/**
 * Is `token` an access token this server issued that is still in force? The one check
 * behind both the admin API's bearer tokens and introspection: signature by a published
 * key, this issuer, `typ: at+jwt`, not expired (and for `audience`, meant for it), every
 * claim Portier uses of the form Portier writes it, its client still there (the same one:
 * `sub` is the client's UUID, never reused), active, and the token not revoked. Clients and
 * revocations come from caches that every change invalidates, so a disable or a revocation
 * is in force at once.
 */
export async function checkAccessToken(ctx: AccessTokenContext, token: string, audience?: string): Promise<AccessTokenCheck> {
  const verified = await verifyAccessToken(ctx, token, audience);
  if ('reason' in verified) return { active: false, reason: verified.reason };
  if (verified.claims === null || !('client' in verified.claims)) return NOT_OURS;
  return checkClientToken(ctx, verified.claims.client);
}

const NOT_OURS = { active: false, reason: 'the access token has a claim Portier does not write' } as const;

/**
 * The issuer a JWT names, unverified: only to choose how to verify it. A token that verified
 * here before is this server's (and is not decoded again: a service presents the same
 * caller's token on every call it makes for it); otherwise its `iss`; undefined for no JWT.
 */
export function claimedIssuer(ctx: Pick<AccessTokenContext, 'issuer' | 'verifiedTokens'>, token: string): string | undefined {
  if (ctx.verifiedTokens?.has(token) === true) return ctx.issuer;
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** The claims of a token Portier issued for a trusted issuer's subject (token exchange): `sub` is `<issuer id>:<sub>`, no client. */
export interface ExternalSubjectClaims extends Omit<AccessTokenClaims, 'clientId' | 'federatedIdentity' | 'mayAct'> {
  /** The trusted issuer's id, the part of `sub` before the first `:`. */
  issuerId: string;
}

/** A token of a client's, or one of a trusted issuer's subject. */
export type IssuedTokenCheck = AccessTokenCheck | { active: true; external: ExternalSubjectClaims };

/**
 * checkAccessToken, and besides a client's tokens, those Portier issued by token exchange
 * for a trusted issuer's subject (no client_id): for introspection, revocation and a new
 * exchange, never for the admin API. Such a token is in force while its issuer is still
 * trusted for token exchange (a removed issuer, or one whose `token_exchange` was turned
 * off, ends its subjects' tokens, as a disabled client ends its own) and not revoked.
 */
export async function checkIssuedToken(
  ctx: AccessTokenContext & { federation: Pick<TrustedIssuerCache, 'findById'> },
  token: string,
): Promise<IssuedTokenCheck> {
  const verified = await verifyAccessToken(ctx, token, undefined);
  if ('reason' in verified) return { active: false, reason: verified.reason };
  if (verified.claims === null) return NOT_OURS;
  if ('client' in verified.claims) return checkClientToken(ctx, verified.claims.client);
  const claims = verified.claims.external;
  const issuer = await ctx.federation.findById(claims.issuerId);
  if (issuer === undefined || !issuer.tokenExchange) {
    return { active: false, reason: 'the trusted issuer of this token is gone or no longer allows token exchange' };
  }
  if (await ctx.revocations.isRevoked(claims.jti)) return { active: false, reason: 'the access token has been revoked' };
  return { active: true, external: claims };
}

/**
 * A token whose signature, issuer, type and expiry verify, with its claims read (and, for
 * `audience`, meant for it): remembered by ctx.verifiedTokens, so that a token presented
 * again costs neither a signature check nor a reading of its claims.
 */
async function verifyAccessToken(
  ctx: AccessTokenContext,
  token: string,
  audience: string | undefined,
): Promise<VerifiedToken | { reason: string }> {
  const keySet = await ctx.keys.get();
  const now = ctx.clock();
  let verified = ctx.verifiedTokens?.get(token, keySet, now);
  if (verified === undefined) {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keySet.verificationKeys, {
        issuer: ctx.issuer,
        typ: 'at+jwt',
        requiredClaims: ['sub', 'jti', 'exp'],
        currentDate: new Date(now),
      }));
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) return INVALID;
      throw error;
    }
    verified = { payload, claims: readTokenClaims(payload, now) };
    ctx.verifiedTokens?.set(token, keySet, verified);
  }
  // Checked on every use, as jose would (`aud` one audience, or a list that holds it): a
  // token remembered for one purpose is not thereby good for another.
  if (audience !== undefined && !isFor(verified.payload.aud, audience)) return INVALID;
  return verified;
}

const INVALID = { reason: 'the access token is invalid or expired' } as const;

function isFor(aud: unknown, audience: string): boolean {
  return Array.isArray(aud) ? aud.includes(audience) : aud === audience;
}

/** The claims of a verified payload: a client's token (with client_id) or a trusted issuer's subject's; null for neither. */
function readTokenClaims(payload: JWTPayload, now: number): TokenClaims | null {
  // Only Portier can sign a token, but a claim still reaches a lookup, comparisons and SQL:
  // it must be what Portier writes (a NUL would make PostgreSQL fail; an array would pass
  // a String() comparison).
  if (payload.client_id !== undefined) {
    const client = readAccessTokenClaims(payload, now);
    return client === undefined ? null : { client };
  }
  const external = readExternalSubjectClaims(payload, now);
  return external === undefined ? null : { external };
}

/** The rest of checkAccessToken: a verified token's client, and revocation. */
async function checkClientToken(ctx: AccessTokenContext, claims: AccessTokenClaims): Promise<AccessTokenCheck> {
  const client = await ctx.directory.find(claims.clientId);
  if (client === undefined || client.uuid !== claims.sub) return { active: false, reason: 'the client of this token no longer exists' };
  if (clientStatus(client, ctx.clock()) !== 'active') return { active: false, reason: 'the client of this token is disabled or expired' };
  if (await ctx.revocations.isRevoked(claims.jti)) return { active: false, reason: 'the access token has been revoked' };
  return { active: true, claims, client };
}

/** The longest `scope` claim accepted: far above what grants can add up to in practice. */
const MAX_SCOPE_LENGTH = 65_536;
/** The most audiences (services) a token may name, and the longest audience (as a service's `audience`). */
const MAX_AUDIENCES = 100;
const MAX_AUDIENCE_LENGTH = 500;
/** A token that claims to outlive this many seconds from now was not issued by Portier (clocks may differ a little). */
const LONGEST_REMAINING_LIFETIME = MAX_ACCESS_TOKEN_TTL + 300;
/** Lower-case UUID, as PostgreSQL writes the service account's id. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** RFC 7638 SHA-256 thumbprint, base64url: 43 characters. */
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;
/** Visible ASCII (an audience is a URI; the admin API allows no more in a service's audience). */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * The claims Portier uses of a token whose signature, issuer, type and expiry jose has
 * checked, or undefined when one of them is not of the form Portier writes: the same rules
 * as for the rest of the input (client_id the client_id rule, jti isStorableJwtId, scope
 * RFC 6749 scope tokens, times whole seconds Portier could have written, cnf.jkt a
 * thumbprint). Claims Portier does not use (name, roles, preferred_username…) are not read.
 */
export function readAccessTokenClaims(payload: JWTPayload, now: number): AccessTokenClaims | undefined {
  const { client_id: clientId, sub } = payload;
  if (typeof clientId !== 'string' || !isValidClientId(clientId)) return undefined;
  if (typeof sub !== 'string' || !UUID.test(sub)) return undefined;
  const common = readCommonClaims(payload, now);
  if (common === undefined) return undefined;
  const federatedIdentity = federatedIdentityClaim(payload[FEDERATED_IDENTITY_CLAIM]);
  const mayAct = readMayActClaim(payload.may_act);
  if (federatedIdentity === null || mayAct === null) return undefined;
  return { ...common, clientId, sub, federatedIdentity, mayAct };
}

/**
 * The claims of a token for a trusted issuer's subject, as draftAccessToken writes them:
 * `sub` `<issuer id>:<sub>` (an issuer id by its rule, a subject by the identity rule), no
 * client_id, no federated_identity nor may_act (exchanged tokens carry none); undefined
 * for anything else.
 */
function readExternalSubjectClaims(payload: JWTPayload, now: number): ExternalSubjectClaims | undefined {
  const { sub } = payload;
  if (payload.client_id !== undefined || payload[FEDERATED_IDENTITY_CLAIM] !== undefined || payload.may_act !== undefined) return undefined;
  if (typeof sub !== 'string') return undefined;
  const colon = sub.indexOf(':');
  const issuerId = sub.slice(0, colon);
  if (colon < 0 || !TRUSTED_ISSUER_ID_PATTERN.test(issuerId) || !isIdentitySubject(sub.slice(colon + 1))) return undefined;
  const common = readCommonClaims(payload, now);
  return common === undefined ? undefined : { ...common, sub, issuerId };
}

/** The claims every token Portier issues has, checked as readAccessTokenClaims says. */
function readCommonClaims(
  payload: JWTPayload,
  now: number,
): Omit<AccessTokenClaims, 'clientId' | 'sub' | 'federatedIdentity' | 'mayAct'> | undefined {
  const { jti, scope = '', exp, iat, aud, iss, cnf } = payload;
  if (!isStorableJwtId(jti)) return undefined;
  if (!isScopeClaim(scope)) return undefined;
  if (!isWholeSeconds(exp) || exp > Math.floor(now / 1000) + LONGEST_REMAINING_LIFETIME) return undefined;
  if (iat !== undefined && !isWholeSeconds(iat)) return undefined;
  if (!isAudienceClaim(aud)) return undefined;
  if (typeof iss !== 'string') return undefined;
  const binding = confirmation(cnf);
  if (binding === null) return undefined;
  const { jkt, x5t } = binding;
  const act = readActClaim(payload.act);
  if (act === null) return undefined;
  return { jti, scope, exp, iat, aud, iss, jkt, x5t, act, custom: withoutReserved(payload).kept };
}

/**
 * The platform identity of a federated client's token; undefined without one; null for
 * one Portier does not write (an issuer id by the trusted-issuer rule, a subject by the
 * identity rule, nothing else).
 */
function federatedIdentityClaim(value: unknown): FederatedIdentityUse | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { issuer, subject, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || typeof issuer !== 'string' || !TRUSTED_ISSUER_ID_PATTERN.test(issuer)) return null;
  return isIdentitySubject(subject) ? { issuer, subject } : null;
}

function isScopeClaim(scope: unknown): scope is string {
  if (typeof scope !== 'string' || scope.length > MAX_SCOPE_LENGTH) return false;
  return scope === '' || scope.split(' ').every(isValidScopeToken);
}

/** A time in seconds as Portier writes one: a positive whole number, before the year 10000. */
function isWholeSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 && value * 1000 <= LATEST_TIMESTAMP;
}

function isAudienceClaim(aud: unknown): aud is string | string[] {
  const isAudience = (value: unknown) => typeof value === 'string' && value.length <= MAX_AUDIENCE_LENGTH && VISIBLE_ASCII.test(value);
  if (Array.isArray(aud)) return aud.length > 0 && aud.length <= MAX_AUDIENCES && aud.every(isAudience);
  return isAudience(aud);
}

/**
 * What a bound token is bound to: `cnf.jkt` (DPoP) and `cnf.x5t#S256` (a TLS client
 * certificate), either or both; neither without `cnf` (a bearer token); null for a `cnf`
 * Portier does not write.
 */
function confirmation(cnf: unknown): { jkt: string | undefined; x5t: string | undefined } | null {
  if (cnf === undefined) return { jkt: undefined, x5t: undefined };
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return null;
  const { jkt, 'x5t#S256': x5t, ...rest } = cnf as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || (jkt === undefined && x5t === undefined)) return null;
  if (jkt !== undefined && !(typeof jkt === 'string' && THUMBPRINT.test(jkt))) return null;
  if (x5t !== undefined && !(typeof x5t === 'string' && THUMBPRINT.test(x5t))) return null;
  return { jkt, x5t };
}
