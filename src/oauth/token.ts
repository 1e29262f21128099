import type { FederatedIdentityUse } from '../clients/identities.js';
import type { ClientRecord, GrantedService } from '../clients/record.js';
import type { Db } from '../db/connect.js';
import type { KeyCache } from '../keys/cache.js';
import type { ClientFingerprints } from '../lib/redact.js';
import { quoteParameter } from '../lib/redact.js';
import type { RepeatedLog } from '../lib/repeated-log.js';
import { isAbsoluteUriWithoutFragment, isValidScopeToken } from '../lib/syntax.js';
import { assignClaims } from '../policy/claims.js';
import type { IssuanceHook } from '../policy/hook.js';
import type { QuotaStanding, QuotaTracker } from '../policy/quota.js';
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
import { draftAccessToken, type IssuedToken, signAccessToken, type TokenDraft } from './issue.js';
import { readTokenParameters, type TokenParameters } from './parameters.js';
import type { RevocationList } from './revocations.js';

export interface TokenEndpointContext extends AuthenticationContext {
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
}

export interface TokenSuccess {
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
}

export const SUPPORTED_GRANT_TYPES = ['client_credentials'] as const;

/**
 * POST /oauth/token, as a list of steps (RFC 6749 §4.4 with RFC 8707 resource indicators).
 * Cheap syntactic checks come before client authentication so a malformed request never
 * costs an argon2 verification.
 */
export async function handleTokenRequest(ctx: TokenEndpointContext, request: TokenRequest): Promise<TokenSuccess> {
  const params = readTokenParameters(request.body);
  checkGrantType(params);
  const credentials = readClientCredentials(request.authorization, params);
  try {
    const requestedAudiences = readRequestedAudiences(params);
    const requestedScopes = readRequestedScopes(params);
    const { client, identity, credentialId } = await authenticateClient(ctx, credentials, request.ip);
    try {
      const services = selectServices(client, requestedAudiences);
      const scopes = selectScopes(services, requestedScopes);
      // After authentication: a failing proof must tell nothing about the secret. Not a
      // client authentication failure either, so it spends no failure budget: the caller
      // has just proven the secret, and a proof costs one signature check, not argon2.
      const dpop = await dpopBinding(ctx.dpop, client, request.dpop);
      const now = ctx.clock();
      // Last of the checks, so that a refused request never counts against the quota.
      const quota = ctx.quotas.quotaOf(client);
      const decision = quota === undefined ? undefined : await ctx.quotas.admit(client, quota, now);
      if (decision?.admitted === false) throw new QuotaExceeded(decision.retryAfterMs, decision.window);
      try {
        const shape = client.shapes.for(services);
        const draft = draftAccessToken({
          issuer: ctx.issuer,
          ttl: shape.ttl ?? ctx.accessTokenTtl,
          client,
          services,
          scopes,
          now,
          jkt: dpop?.jkt,
          federatedIdentity: identity,
          custom: shape.claims,
        });
        if (ctx.hook !== undefined) await callIssuanceHook(ctx, ctx.hook, draft, client, services, request.ip);
        const token = await signAccessToken((await ctx.keys.get()).active, draft);
        return { client, identity, credentialId, services, token, dpopNonce: dpop?.nonce, quota: decision?.standing };
      } catch (error) {
        // Not issued after all: the quota gets this token back.
        decision?.release();
        throw error;
      }
    } catch (error) {
      throw concerning(error, { clientId: client.clientId });
    }
  } catch (error) {
    throw concerning(error, ctx.fingerprints.of(credentials.clientId));
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
    client: {
      client_id: client.clientId,
      name: client.name,
      owner: client.owner,
      first_name: client.firstName,
      last_name: client.lastName,
      roles: client.roles,
      claims: client.claims,
    },
    services: services.map((service) => ({ id: service.serviceId, audience: service.audience })),
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

function checkGrantType(params: TokenParameters): void {
  if (params.grant_type === undefined || params.grant_type === '') throw new InvalidRequest('grant_type is required');
  if (params.grant_type !== 'client_credentials') {
    throw new UnsupportedGrantType(`grant_type ${quoteParameter(params.grant_type)} is not supported; use client_credentials`);
  }
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
  for (const resource of params.resource) {
    if (!isAbsoluteUriWithoutFragment(resource)) {
      throw new InvalidTarget('resource must be an absolute URI without a fragment (RFC 8707)');
    }
  }
  return [...new Set(params.resource)];
}

/** The requested scopes, or undefined when `scope` was omitted or empty. */
export function readRequestedScopes(params: TokenParameters): string[] | undefined {
  if (params.scope === undefined || params.scope.trim() === '') return undefined;
  const scopes = params.scope.split(' ').filter((scope) => scope !== '');
  for (const scope of scopes) {
    if (!isValidScopeToken(scope)) throw new InvalidScope('scope contains characters RFC 6749 §3.3 does not allow');
  }
  return [...new Set(scopes)];
}

/**
 * Which granted services the token is for. Nothing asked and exactly one granted: that
 * one. Nothing asked and several granted: the caller must choose. Anything not granted
 * (or unknown) is invalid_target.
 */
export function selectServices(client: ClientRecord, audiences: string[]): GrantedService[] {
  if (audiences.length === 0) {
    const granted = [...client.grants.values()];
    if (granted.length === 1) return granted;
    if (granted.length === 0) throw new InvalidTarget('the client is not granted any service');
    throw new InvalidTarget('the client is granted several services: name one with resource or audience');
  }
  return audiences.map((audience) => {
    const service = client.grants.get(audience);
    if (service === undefined) throw new InvalidTarget(`the client is not granted the service ${quoteParameter(audience)}`);
    return service;
  });
}

/** The requested scopes must be granted for the chosen services; omitted means all of those. */
export function selectScopes(services: GrantedService[], requested: string[] | undefined): string[] {
  const granted = new Set(services.flatMap((service) => service.scopes));
  if (requested === undefined) return [...granted];
  const missing = requested.filter((scope) => !granted.has(scope));
  if (missing.length > 0) {
    throw new InvalidScope(`scope not granted: ${quoteParameter(missing.join(' '))}`);
  }
  return requested;
}
