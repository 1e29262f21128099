import { certificateThumbprint } from '../clients/certificates.js';
import type { ClientRecord, GrantedService } from '../clients/record.js';
import type { Db } from '../db/connect.js';
import type { FederatedIdentityUse } from '../federation/identities.js';
import type { KeyCache } from '../keys/cache.js';
import type { ClientFingerprints } from '../lib/redact.js';
import { quoteParameter } from '../lib/redact.js';
import type { RepeatedLog } from '../lib/repeated-log.js';
import { isAbsoluteUriWithoutFragment, isValidScopeToken } from '../lib/syntax.js';
import { assignClaims } from '../policy/claims.js';
import type { IssuanceHook } from '../policy/hook.js';
import type { QuotaStanding, QuotaTracker } from '../policy/quota.js';
import type { PresentedCertificate } from '../tls/client-certificate.js';
import { type AuthenticationContext, authenticateClient } from './client-auth/authenticate.js';
import { readClientCredentials } from './client-auth/credentials.js';
import { type DpopContext, dpopBinding } from './dpop.js';
import {
  AccessDenied,
  concerning,
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  QuotaExceeded,
  TemporarilyUnavailable,
  UnsupportedGrantType,
} from './errors.js';
import { clientCredentialsDecision } from './grants/client-credentials.js';
import type { TokenDecision } from './grants/decision.js';
import { JWT_BEARER_GRANT, jwtBearerClient, readAssertion, sendsClientAuthentication } from './grants/jwt-bearer.js';
import { readExchangeRequest, TOKEN_EXCHANGE_GRANT, type TokenExchangeContext, tokenExchangeDecision } from './grants/token-exchange.js';
import { draftAccessToken, type IssuedToken, signAccessToken, type TokenDraft } from './issue.js';
import { readTokenParameters, type TokenParameters } from './parameters.js';
import type { RevocationList } from './revocations.js';

export interface TokenEndpointContext extends AuthenticationContext, TokenExchangeContext {
  issuer: string;
  accessTokenTtl: number;
  db: Db;
  keys: KeyCache;
  revocations: RevocationList;
  fingerprints: ClientFingerprints;
  dpop: DpopContext;
  /** Per-client token quotas (policy/quota.ts). */
  quotas: QuotaTracker;
  /** The issuance hook (policy/hook.ts), when TOKEN_HOOK_URL is set. */
  hook: IssuanceHook | undefined;
  /** For what repeats on the token path (a failing hook): a line a second at most per kind. */
  repeatedLog: RepeatedLog;
  /** Applies a change this instance made (a revocation) to its own caches at once. */
  onChange(): Promise<void>;
}

export interface TokenRequest {
  body: unknown;
  authorization: string | undefined;
  /** The DPoP header(s), as Node read them. */
  dpop?: string | string[] | undefined;
  ip: string;
  /** The TLS client certificate of the request (tls/client-certificate.ts), if any. */
  certificate?: PresentedCertificate | undefined;
}

export interface TokenSuccess {
  /** The client that asked (and, in a token exchange, the actor): usage and quotas count its tokens. */
  client: ClientRecord;
  /** The platform identity, when the client signed in with its platform's JWT. */
  identity: FederatedIdentityUse | undefined;
  /** The credential the client authenticated with, when it used one of its own (for its last_used_at). */
  credentialId: string | undefined;
  services: GrantedService[];
  token: IssuedToken;
  /** With DPOP_NONCE=true, the nonce for the client's next proof (the DPoP-Nonce header). */
  dpopNonce: string | undefined;
  /** When a quota applies: where the client stands, for the RateLimit-* headers. */
  quota: QuotaStanding | undefined;
  /** A token exchange: RFC 8693's issued_token_type, and what the audit trail records of it. */
  exchange: { issuedTokenType: string; subject: string; subjectClientId: string | undefined; actor: string; chain: string[] } | undefined;
}

/**
 * The steps of the token path that tracing times (tracing/token-path.ts replaces them with
 * traced ones at start when OpenTelemetry is on): called through this object so that, with
 * tracing off, a request pays one property read and nothing else.
 */
export const tokenSteps = { authenticateClient, signAccessToken };

export const SUPPORTED_GRANT_TYPES = ['client_credentials', TOKEN_EXCHANGE_GRANT, JWT_BEARER_GRANT] as const;
type GrantType = (typeof SUPPORTED_GRANT_TYPES)[number];

/**
 * POST /oauth/token, as a list of steps: RFC 6749 §4.4 with RFC 8707 resource indicators,
 * RFC 8693 token exchange (grants/token-exchange.ts) and the RFC 7523 JWT bearer grant
 * (grants/jwt-bearer.ts). Cheap syntactic checks come before
 * client authentication so a malformed request never costs an argon2 verification; the
 * grant decides what the token is; the steps after it are every grant's.
 */
export async function handleTokenRequest(ctx: TokenEndpointContext, request: TokenRequest): Promise<TokenSuccess> {
  const params = readTokenParameters(request.body);
  const grantType = checkGrantType(params);
  if (grantType === JWT_BEARER_GRANT && !sendsClientAuthentication(request.authorization, params)) {
    return handleJwtBearerWithoutClientAuthentication(ctx, request, params);
  }
  const credentials = readClientCredentials(request.authorization, params, request.certificate);
  try {
    const requestedAudiences = readRequestedAudiences(params);
    const requestedScopes = readRequestedScopes(params);
    const exchange = grantType === TOKEN_EXCHANGE_GRANT ? readExchangeRequest(params) : undefined;
    const assertion = grantType === JWT_BEARER_GRANT ? readAssertion(params) : undefined;
    const authentication = await tokenSteps.authenticateClient(ctx, credentials, request.ip);
    const { client, identity } =
      assertion === undefined
        ? authentication
        : await jwtBearerClient(ctx, assertion, { authenticated: authentication.client, requestedClientId: undefined, ip: request.ip });
    // The credential whose last use this token counts: none when the token is another client's (JWT bearer).
    const credentialId = assertion === undefined ? authentication.credentialId : undefined;
    try {
      const decision =
        exchange === undefined
          ? clientCredentialsDecision(client, identity, requestedAudiences, requestedScopes, ctx.accessTokenTtl)
          : await tokenExchangeDecision(ctx, client, exchange, requestedAudiences, requestedScopes);
      return { ...(await issueToken(ctx, request, client, identity, decision)), credentialId };
    } catch (error) {
      throw concerning(error, { clientId: client.clientId });
    }
  } catch (error) {
    throw concerning(error, ctx.fingerprints.of(credentials.clientId));
  }
}

/** RFC 7523 §2.1 without client authentication (§3.1 makes it optional): the assertion names the client. */
async function handleJwtBearerWithoutClientAuthentication(
  ctx: TokenEndpointContext,
  request: TokenRequest,
  params: TokenParameters,
): Promise<TokenSuccess> {
  const requestedAudiences = readRequestedAudiences(params);
  const requestedScopes = readRequestedScopes(params);
  const assertion = readAssertion(params);
  const { client, identity } = await jwtBearerClient(ctx, assertion, {
    authenticated: undefined,
    requestedClientId: params.client_id,
    ip: request.ip,
  });
  try {
    const decision = clientCredentialsDecision(client, identity, requestedAudiences, requestedScopes, ctx.accessTokenTtl);
    return { ...(await issueToken(ctx, request, client, identity, decision)), credentialId: undefined };
  } catch (error) {
    throw concerning(error, { clientId: client.clientId });
  }
}

/** The steps every grant shares once it has decided: the DPoP proof, the quota, the draft, the hook, the signature. */
async function issueToken(
  ctx: TokenEndpointContext,
  request: TokenRequest,
  client: ClientRecord,
  identity: FederatedIdentityUse | undefined,
  decision: TokenDecision,
): Promise<Omit<TokenSuccess, 'credentialId'>> {
  // After authentication: a failing proof must tell nothing about the secret. Not a
  // client authentication failure either, so it spends no failure budget: the caller
  // has just proven the secret, and a proof costs one signature check, not argon2.
  const dpop = await dpopBinding(ctx.dpop, client, request.dpop);
  // A DPoP-bound subject token may be exchanged only by whoever holds its key (RFC 9449).
  if (decision.requiredJkt !== undefined && dpop?.jkt !== decision.requiredJkt) {
    throw new InvalidRequest(
      dpop === undefined
        ? 'the subject_token is DPoP-bound: send a DPoP proof of its key'
        : "the subject_token is DPoP-bound to another key than the DPoP proof's",
    );
  }
  const x5t = certificateBinding(client, request.certificate);
  // A certificate-bound subject token likewise, only by whoever holds its certificate (RFC 8705 §3).
  if (decision.requiredX5t !== undefined) {
    const presented = request.certificate === undefined ? undefined : certificateThumbprint(request.certificate.certificate);
    if (presented !== decision.requiredX5t) {
      throw new InvalidRequest(
        presented === undefined
          ? 'the subject_token is bound to a TLS client certificate: present it'
          : 'the subject_token is bound to another TLS client certificate than the one presented',
      );
    }
  }
  const now = ctx.clock();
  // Last of the checks, so that a refused request never counts against the quota.
  const quota = ctx.quotas.quotaOf(client);
  const admission = quota === undefined ? undefined : await ctx.quotas.admit(client, quota, now);
  if (admission?.admitted === false) throw new QuotaExceeded(admission.retryAfterMs, admission.window);
  try {
    const draft = draftAccessToken({
      issuer: ctx.issuer,
      ttl: decision.ttl,
      subject: decision.subject,
      services: decision.services,
      scopes: decision.scopes,
      now,
      jkt: dpop?.jkt,
      x5t,
      federatedIdentity: decision.federatedIdentity,
      custom: decision.custom,
      act: decision.act,
      mayAct: decision.mayAct,
    });
    if (ctx.hook !== undefined) await callIssuanceHook(ctx, ctx.hook, draft, client, decision.services, request.ip);
    const token = await tokenSteps.signAccessToken((await ctx.keys.get()).active, draft);
    const exchange =
      decision.exchange === undefined || decision.issuedTokenType === undefined
        ? undefined
        : { issuedTokenType: decision.issuedTokenType, ...decision.exchange };
    return { client, identity, services: decision.services, token, dpopNonce: dpop?.nonce, quota: admission?.standing, exchange };
  } catch (error) {
    // Not issued after all: the quota gets this token back.
    admission?.release();
    throw error;
  }
}

/**
 * Asks the issuance hook about the drafted token. Its claims are added (over the custom
 * ones of the same name; reserved names it sent are dropped, and logged); a denial is a
 * 403 access_denied with the hook's description. A failed call (timeout, error, an answer
 * that is not 2xx JSON) is, with TOKEN_HOOK_ON_FAILURE=deny, a 503 the client may retry,
 * and with `allow`, the token as Portier would issue it without the hook, and a warning.
 */
async function callIssuanceHook(
  ctx: TokenEndpointContext,
  hook: IssuanceHook,
  draft: TokenDraft,
  client: ClientRecord,
  services: GrantedService[],
  ip: string,
): Promise<void> {
  const outcome = await hook.call({
    source: client,
    client: () => ({
      client_id: client.clientId,
      name: client.name,
      owner: client.owner,
      first_name: client.firstName,
      last_name: client.lastName,
      roles: client.roles,
      claims: client.claims,
    }),
    services,
    scope: draft.scope,
    ip,
    claims: draft.claims,
  });
  if (outcome.kind === 'claims') {
    if (outcome.dropped.length > 0) {
      ctx.repeatedLog.warn(
        `hook reserved claims ${client.clientId}`,
        { client_id: client.clientId, dropped: outcome.dropped },
        'the issuance hook answered with reserved claim names: dropped',
      );
    }
    assignClaims(draft.claims, outcome.claims);
    return;
  }
  if (outcome.kind === 'deny') {
    throw new AccessDenied(
      outcome.description === '' ? 'the token was denied by policy' : outcome.description,
      'denied by the issuance hook',
    );
  }
  if (hook.config.onFailure === 'allow') {
    ctx.repeatedLog.warn(
      `hook failed: ${outcome.reason}`,
      { reason: outcome.reason, detail: outcome.detail },
      'the issuance hook failed: token issued without its claims (TOKEN_HOOK_ON_FAILURE=allow)',
    );
    return;
  }
  throw new TemporarilyUnavailable(`issuance hook failed: ${outcome.reason} (${outcome.detail})`);
}

/**
 * RFC 8705 §3: the thumbprint the token is bound to, for a client whose tokens are bound to
 * its certificate (tls_client_certificate_bound_access_tokens); undefined for other clients.
 * A bound client without a certificate on this request is refused: a token it could use
 * without the key is what binding is there to prevent.
 */
function certificateBinding(client: ClientRecord, presented: PresentedCertificate | undefined): string | undefined {
  if (!client.certificateBound) return undefined;
  if (presented === undefined) {
    throw new InvalidRequest("this client's tokens are bound to its TLS client certificate: present one (RFC 8705)");
  }
  return certificateThumbprint(presented.certificate);
}

function checkGrantType(params: TokenParameters): GrantType {
  const grantType = params.grant_type;
  if (grantType === undefined || grantType === '') throw new InvalidRequest('grant_type is required');
  const supported = SUPPORTED_GRANT_TYPES.find((name) => name === grantType);
  if (supported === undefined) {
    throw new UnsupportedGrantType(`grant_type ${quoteParameter(grantType)} is not supported; use ${SUPPORTED_GRANT_TYPES.join(' or ')}`);
  }
  return supported;
}

/**
 * The services asked for, by audience: `resource` (RFC 8707, repeatable, absolute URIs
 * without a fragment) or Auth0's `audience`; not both. Empty means "not said".
 */
export function readRequestedAudiences(params: TokenParameters): string[] {
  if (params.audience !== undefined && params.resource.length > 0) {
    throw new InvalidRequest('send either resource or audience, not both');
  }
  if (params.audience !== undefined) return params.audience === '' ? [] : [params.audience];
  const { resource } = params;
  for (const value of resource) {
    if (!isValidResource(value)) throw new InvalidTarget('resource must be an absolute URI without a fragment (RFC 8707)');
  }
  // One resource, as nearly every request sends: nothing to deduplicate.
  return resource.length < 2 ? resource : [...new Set(resource)];
}

/**
 * Resources already found valid: the check parses a URL (`new URL`), and a client asks for
 * the same few audiences again and again. Bounded, and emptied when full, so that a caller
 * sending a new resource each time cannot make it grow; a miss only costs the check again.
 */
const validResources = new Set<string>();
const VALID_RESOURCES_MAX = 1024;

function isValidResource(value: string): boolean {
  if (validResources.has(value)) return true;
  if (!isAbsoluteUriWithoutFragment(value)) return false;
  if (validResources.size >= VALID_RESOURCES_MAX) validResources.clear();
  validResources.add(value);
  return true;
}

/** The requested scopes, or undefined when `scope` was omitted or empty. */
export function readRequestedScopes(params: TokenParameters): string[] | undefined {
  if (params.scope === undefined || params.scope.trim() === '') return undefined;
  const scopes = params.scope.split(' ').filter((scope) => scope !== '');
  for (const scope of scopes) {
    if (!isValidScopeToken(scope)) throw new InvalidScope('scope contains characters RFC 6749 §3.3 does not allow');
  }
  return scopes.length < 2 ? scopes : [...new Set(scopes)];
}
