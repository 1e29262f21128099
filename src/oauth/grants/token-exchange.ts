import type { ClientRecord, GrantedService } from '../../clients/record.js';
import type { FederatedIdentityUse } from '../../federation/identities.js';
import { quoteParameter } from '../../lib/redact.js';
import { effectiveTtl, mergedClaims } from '../../policy/shapes.js';
import { type AccessTokenContext, checkAccessToken, checkIssuedToken, claimedIssuer } from '../access-tokens.js';
import type { FederationContext } from '../client-auth/federated.js';
import { type ActClaim, actChain, actClaim, actDepth, mayActClientIds } from '../delegation.js';
import { InvalidRequest, InvalidScope, UnauthorizedClient } from '../errors.js';
import type { TokenParameters } from '../parameters.js';
import { selectServices } from './client-credentials.js';
import { TOKEN_TYPES, type TokenDecision } from './decision.js';
import { PlatformTokenRejected, type VerifiedPlatformToken, verifyPlatformToken } from './platform-token.js';

/**
 * OAuth 2.0 Token Exchange (RFC 8693): a client (the actor) trades a token it was given
 * (the subject token: a caller's Portier access token, or a trusted issuer's JWT where that
 * issuer has `token_exchange`) for one meant for the next service, which keeps the caller
 * as its subject and names the actor in `act`. The rules, in order:
 *
 * 1. the target services are among the actor's grants (invalid_target), and each of those
 *    grants has `exchange` (else unauthorized_client);
 * 2. an `actor_token`, if sent, is an active Portier token of the requesting client, or of
 *    a client that each target grant lists in `exchange.actors`: that client is then the
 *    actor, named in `act` (else invalid_request);
 * 3. the subject token is active: signed by our keys, not expired, not revoked, its client
 *    active (else invalid_request, RFC 8693 §2.2.2); a DPoP-bound one only with a proof of
 *    its key (checked with the request's proof, see oauth/token.ts). A trusted issuer's is
 *    checked as federation checks platform tokens (grants/platform-token.ts);
 * 4. its `may_act`, if any, names the actor; the requesting client's grant lists the subject
 *    (`exchange.subjects`: its client_id, `issuer:<id>`, or `*`); the chain stays within
 *    TOKEN_EXCHANGE_MAX_DEPTH actors (each invalid_request);
 * 5. the scopes asked for are granted to the requesting client for the target, to a listed
 *    actor for it too (no grant there: none), and, where the subject's client has a grant
 *    for the target, to the subject: delegation never widens what any of them may do
 *    (invalid_scope); none asked: all that they all allow;
 * 6. the new token lives no longer than the subject token, nor than a token of the
 *    subject's for the target would.
 */

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/**
 * What the exchange needs besides the request: the access-token check's context, the
 * trusted issuers (for their tokens as subjects), the default lifetime, the depth limit.
 */
export interface TokenExchangeContext extends AccessTokenContext, Pick<FederationContext, 'remoteJwks' | 'federation'> {
  accessTokenTtl: number;
  /** TOKEN_EXCHANGE_MAX_DEPTH: the most actors a chain may have. */
  tokenExchangeMaxDepth: number;
}

/** The token types a subject token may be sent as. */
const SUBJECT_TOKEN_TYPES: readonly string[] = [TOKEN_TYPES.accessToken, TOKEN_TYPES.jwt, TOKEN_TYPES.idToken];
/** What Portier issues, and so what may be requested. */
const ISSUABLE_TOKEN_TYPES: readonly string[] = [TOKEN_TYPES.accessToken, TOKEN_TYPES.jwt];
/** Longer than any token Portier or a platform issues; anything longer is refused unread. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** A token exchange request's parameters, checked for syntax before the client authenticates (nothing costly). */
export interface ExchangeRequest {
  subjectToken: string;
  subjectTokenType: string;
  actorToken: string | undefined;
  issuedTokenType: string;
}

export function readExchangeRequest(params: TokenParameters): ExchangeRequest {
  const { subject_token: subjectToken, subject_token_type: subjectTokenType } = params;
  if (subjectToken === undefined || subjectToken === '') throw new InvalidRequest('subject_token is required');
  if (subjectTokenType === undefined || subjectTokenType === '') throw new InvalidRequest('subject_token_type is required');
  if (!SUBJECT_TOKEN_TYPES.includes(subjectTokenType)) {
    throw new InvalidRequest(
      `subject_token_type ${quoteParameter(subjectTokenType)} is not supported; use ${SUBJECT_TOKEN_TYPES.join(', ')}`,
    );
  }
  const requested = params.requested_token_type;
  if (requested !== undefined && !ISSUABLE_TOKEN_TYPES.includes(requested)) {
    throw new InvalidRequest(
      `requested_token_type ${quoteParameter(requested)} cannot be issued; use ${ISSUABLE_TOKEN_TYPES.join(' or ')}`,
    );
  }
  const { actor_token: actorToken, actor_token_type: actorTokenType } = params;
  if ((actorToken === undefined) !== (actorTokenType === undefined)) {
    throw new InvalidRequest('actor_token and actor_token_type must be sent together');
  }
  if (actorTokenType !== undefined && !ISSUABLE_TOKEN_TYPES.includes(actorTokenType)) {
    throw new InvalidRequest(
      `actor_token_type ${quoteParameter(actorTokenType)} is not supported; use ${ISSUABLE_TOKEN_TYPES.join(' or ')}`,
    );
  }
  if (subjectToken.length > MAX_TOKEN_LENGTH || (actorToken?.length ?? 0) > MAX_TOKEN_LENGTH) {
    throw new InvalidRequest('subject_token or actor_token is too long');
  }
  return { subjectToken, subjectTokenType, actorToken, issuedTokenType: requested ?? TOKEN_TYPES.accessToken };
}

/** The subject of an exchange, as the subject token says: whom the new token is for, and the chain so far. */
interface ExchangeSubject {
  /** What `exchange.subjects` lists it as: its client_id (or `issuer:<id>` for a trusted issuer's). */
  policyNames: string[];
  /** How the audit trail names it. */
  name: string;
  /** The subject's client; undefined for a trusted issuer's subject. */
  client: ClientRecord | undefined;
  /** What the new token's `sub` is for a trusted issuer's subject: `<issuer id>:<sub>`. */
  external: string | undefined;
  /** The subject token's `act`: the actors before this one. */
  act: ActClaim | undefined;
  /** Whom the subject token allows to act for it (`may_act`); undefined: any. */
  mayAct: string[] | undefined;
  /** Seconds since the epoch. */
  exp: number;
  jkt: string | undefined;
  /** The certificate thumbprint the subject token is bound to (RFC 8705), if any. */
  x5t: string | undefined;
  federatedIdentity: FederatedIdentityUse | undefined;
}

/** The token exchange's decision for the authenticated actor, or the error that refuses it. */
export async function tokenExchangeDecision(
  ctx: TokenExchangeContext,
  client: ClientRecord,
  request: ExchangeRequest,
  audiences: string[],
  requestedScopes: string[] | undefined,
): Promise<TokenDecision> {
  const services = selectServices(client, audiences);
  for (const service of services) {
    if (service.exchange === null) {
      throw new UnauthorizedClient(`the client may not exchange tokens for the service ${quoteParameter(service.serviceId)}`);
    }
  }
  const acting = request.actorToken === undefined ? client : await actorOf(ctx, client, services, request.actorToken);
  const ours = claimedIssuer(ctx, request.subjectToken) === ctx.issuer;
  const subject =
    request.subjectTokenType !== TOKEN_TYPES.accessToken && !ours
      ? await readTrustedIssuerSubject(ctx, request)
      : await readPortierSubject(ctx, request, ours);

  if (subject.mayAct !== undefined && !subject.mayAct.includes(acting.clientId)) {
    throw new InvalidRequest(`the subject token does not allow ${quoteParameter(acting.clientId)} to act for it (may_act)`);
  }
  for (const service of services) {
    const allowed = service.exchange?.subjects ?? [];
    if (!allowed.includes('*') && !subject.policyNames.some((name) => allowed.includes(name))) {
      throw new InvalidRequest(
        `the client may not act for ${quoteParameter(subject.name)} at the service ${quoteParameter(service.serviceId)}`,
      );
    }
  }
  const depth = actDepth(subject.act) + 1;
  if (depth > ctx.tokenExchangeMaxDepth) {
    throw new InvalidRequest(`the delegation chain would be ${depth} actors deep; at most ${ctx.tokenExchangeMaxDepth} are allowed`);
  }

  const scopes = delegatedScopes(services, [subject.client, acting === client ? undefined : acting], requestedScopes);
  // A trusted issuer's subject has no client: the target services' own lifetime and claims.
  const shape = subject.client?.shapes.for(services) ?? {
    ttl: effectiveTtl(NO_CLIENT_POLICY, services),
    claims: mergedClaims(NO_CLIENT_POLICY, services),
  };
  const remaining = subject.exp - Math.floor(ctx.clock() / 1000);
  return {
    subject: subject.client !== undefined ? { client: subject.client } : { external: subject.external ?? subject.name },
    services,
    scopes,
    ttl: Math.max(1, Math.min(shape.ttl ?? ctx.accessTokenTtl, remaining)),
    custom: shape.claims,
    federatedIdentity: subject.federatedIdentity,
    act: actClaim(acting.clientId, subject.act),
    requiredJkt: subject.jkt,
    requiredX5t: subject.x5t,
    issuedTokenType: request.issuedTokenType,
    exchange: { subject: subject.name, subjectClientId: subject.client?.clientId, actor: acting.clientId, chain: actChain(subject.act) },
  };
}

/**
 * RFC 8693 §2.1: an actor token stands for the party that acts. It must be active, and of
 * the requesting client (which stays the actor) or of a client every target grant lists in
 * `exchange.actors` (which becomes the actor: the requesting client relays for it). A token
 * that is itself delegated (has `act`) is no actor's own and is refused, so that a chain is
 * only ever built one exchange at a time, each checked. Another client's token bound to a
 * key or certificate (DPoP, RFC 8705) is refused: the requesting client cannot prove
 * possession of it, and a bound token is worth nothing without that proof.
 */
async function actorOf(ctx: TokenExchangeContext, client: ClientRecord, services: GrantedService[], token: string): Promise<ClientRecord> {
  const check = await checkAccessToken(ctx, token);
  if (!check.active)
    throw new InvalidRequest('the actor_token is not an active access token of this server', `actor_token: ${check.reason}`);
  if (check.claims.act !== undefined) {
    throw new InvalidRequest('the actor_token must be a token of the actor itself, not one got by token exchange', 'delegated actor_token');
  }
  const actor = check.client;
  if (actor.clientId === client.clientId) return client;
  const unlisted = services.find((service) => !(service.exchange?.actors ?? []).includes(actor.clientId));
  if (unlisted !== undefined) {
    throw new InvalidRequest(
      `the actor_token must be an access token of the requesting client or of a client its grant for the service ${quoteParameter(unlisted.serviceId)} lists as an actor`,
      `actor_token of ${actor.clientId}`,
    );
  }
  if (check.claims.jkt !== undefined || check.claims.x5t !== undefined) {
    throw new InvalidRequest('the actor_token of another client must not be bound to a key (DPoP) or certificate', 'bound actor_token');
  }
  return actor;
}

/**
 * A subject token that is one of Portier's access tokens (`ours`: it names this server as its
 * issuer), checked as every access token is.
 * One Portier issued for a trusted issuer's subject (an earlier exchange) keeps that subject:
 * listed as `issuer:<id>`, its `act` the chain so far.
 */
async function readPortierSubject(ctx: TokenExchangeContext, request: ExchangeRequest, ours: boolean): Promise<ExchangeSubject> {
  if (request.subjectTokenType === TOKEN_TYPES.idToken) throw new InvalidRequest('an id_token subject must come from a trusted issuer');
  if (!ours) {
    throw new InvalidRequest('the subject_token was not issued by this server', 'subject token of another issuer');
  }
  const check = await checkIssuedToken(ctx, request.subjectToken);
  if (!check.active) throw new InvalidRequest('the subject_token is not an active access token', `subject_token: ${check.reason}`);
  if ('external' in check) {
    const { external } = check;
    return {
      policyNames: [`issuer:${external.issuerId}`],
      name: external.sub,
      client: undefined,
      external: external.sub,
      act: external.act,
      mayAct: undefined,
      exp: external.exp,
      jkt: external.jkt,
      x5t: external.x5t,
      federatedIdentity: undefined,
    };
  }
  const { claims, client } = check;
  return {
    policyNames: [client.clientId],
    name: client.clientId,
    client,
    external: undefined,
    act: claims.act,
    mayAct: claims.mayAct === undefined ? undefined : mayActClientIds(claims.mayAct),
    exp: claims.exp,
    jkt: claims.jkt,
    x5t: claims.x5t,
    federatedIdentity: claims.federatedIdentity,
  };
}

/**
 * A subject token from a trusted issuer with `token_exchange`, checked as federation checks
 * a platform token (grants/platform-token.ts). The subject is `<issuer id>:<sub>`, listed in
 * grants as `issuer:<issuer id>`; an `act` or `may_act` of another issuer's is not read.
 */
async function readTrustedIssuerSubject(ctx: TokenExchangeContext, request: ExchangeRequest): Promise<ExchangeSubject> {
  let verified: VerifiedPlatformToken;
  try {
    verified = await verifyPlatformToken(ctx, request.subjectToken, 'token_exchange');
  } catch (error) {
    if (error instanceof PlatformTokenRejected) {
      throw new InvalidRequest(
        'the subject_token is not a valid token of a trusted issuer that allows token exchange',
        `subject_token: ${error.detail}`,
      );
    }
    throw error;
  }
  const name = `${verified.issuer.id}:${verified.subject}`;
  return {
    policyNames: [`issuer:${verified.issuer.id}`],
    name,
    client: undefined,
    external: name,
    act: undefined,
    mayAct: undefined,
    exp: Number(verified.claims.exp),
    jkt: undefined,
    x5t: undefined,
    federatedIdentity: undefined,
  };
}

/** The policy of no client at all: what a trusted issuer's subject brings to a token's lifetime and claims. */
const NO_CLIENT_POLICY = { accessTokenTtl: null, claims: {} };

/**
 * The scopes of the new token: each granted to the requesting client for the target
 * services and, for each of the subject's client and a listed actor, granted to it for
 * that service. The subject's client without a grant for a service does not narrow it
 * (it is no party to that service); a listed actor without one allows nothing there: it
 * acts at that service, and may do nothing it could not do itself. None asked: every scope
 * all allow.
 */
function delegatedScopes(
  services: GrantedService[],
  [subject, actor]: [ClientRecord | undefined, ClientRecord | undefined],
  requested: string[] | undefined,
): string[] {
  const allowed = new Set<string>();
  for (const service of services) {
    const subjects = subject?.grants.get(service.audience)?.scopes;
    const actors = actor === undefined ? undefined : (actor.grants.get(service.audience)?.scopes ?? []);
    for (const scope of service.scopes) {
      if ((subjects === undefined || subjects.includes(scope)) && (actors === undefined || actors.includes(scope))) allowed.add(scope);
    }
  }
  if (requested === undefined) return [...allowed];
  const missing = requested.filter((scope) => !allowed.has(scope));
  if (missing.length > 0) {
    const parties = actor === undefined ? 'the client and the subject' : 'the client, the actor and the subject';
    throw new InvalidScope(`scope not allowed to ${parties}: ${quoteParameter(missing.join(' '))}`);
  }
  return requested;
}
