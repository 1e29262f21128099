import { isDatabaseUnavailable } from '../db/errors.js';
import type { ClientReference } from '../lib/redact.js';
import { Overloaded } from '../protection/admission.js';

/**
 * OAuth 2.0 errors (RFC 6749 §5.2, RFC 8707 §2). Each carries the public `error` code and
 * description sent to the caller, and a private `detail` that only reaches the log and the
 * audit trail: the caller of a failed authentication never learns why it failed.
 */
export class OAuthError extends Error {
  readonly status: number = 400;
  readonly error: string = 'invalid_request';
  /**
   * The client the refused request concerns, for log and audit only: by its client_id once
   * a client with that id was found, otherwise by a fingerprint of what was presented.
   */
  client: ClientReference | undefined;

  /** Says which client the refusal concerns, unless an earlier step already did. */
  concerns(client: ClientReference): this {
    this.client ??= client;
    return this;
  }

  constructor(
    readonly description: string,
    /** The real reason, for logs and audit only. */
    readonly detail?: string,
  ) {
    super(description);
    this.name = new.target.name;
  }

  /**
   * The HTTP status of the answer, which for some errors depends on whether the request
   * carried an Authorization header (see InvalidClient).
   */
  statusFor(_authorizationSent: boolean): number {
    return this.status;
  }

  /**
   * The longest this answer may be held back before it is sent (protection/tarpit.ts); 0:
   * not at all. Only answers that cost nothing to make are held: a flooding connection
   * that got one at once would simply ask again.
   */
  get holdBackMs(): number {
    return 0;
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export class InvalidRequest extends OAuthError {
  override readonly error = 'invalid_request';
}

/**
 * Every failed client authentication looks exactly like this to the caller: the same body;
 * a 401 with the Basic challenge when the client tried HTTP Basic (the Authorization
 * header), as RFC 6749 §5.2 requires, and otherwise (a secret or an assertion in the body,
 * or nothing at all) the 400 that §5.2 gives every error. Why not 401 everywhere: Java's
 * HttpURLConnection cannot read the body of a 401 to a streamed POST (it has no credentials
 * to retry with), so google-oauth-client on its default transport never saw
 * `invalid_client`; and oauth4webapi and openid-client turn a challenged 401 into a
 * WWWAuthenticateChallengeError. Which status comes depends only on what the caller sent,
 * never on what was wrong.
 */
export class InvalidClient extends OAuthError {
  override readonly status = 400;
  override readonly error = 'invalid_client';

  constructor(detail: string) {
    super('client authentication failed', detail);
  }

  override statusFor(authorizationSent: boolean): number {
    return authorizationSent ? 401 : 400;
  }
}

export class UnauthorizedClient extends OAuthError {
  override readonly error = 'unauthorized_client';
}

/** RFC 6749 §5.2: the authorization grant (a JWT bearer assertion, RFC 7523 §3.1) is invalid. */
export class InvalidGrant extends OAuthError {
  override readonly error = 'invalid_grant';
}

export class UnsupportedGrantType extends OAuthError {
  override readonly error = 'unsupported_grant_type';
}

export class InvalidScope extends OAuthError {
  override readonly error = 'invalid_scope';
}

export class InvalidTarget extends OAuthError {
  override readonly error = 'invalid_target';
}

/** RFC 9449 §5: the DPoP proof is missing where required, malformed, or fails a check. */
export class InvalidDpopProof extends OAuthError {
  override readonly error = 'invalid_dpop_proof';
}

/**
 * RFC 9449 §8: the proof lacks the server's current nonce; the answer carries a fresh one
 * in the DPoP-Nonce header, and the client retries with it.
 */
export class UseDpopNonce extends OAuthError {
  override readonly error = 'use_dpop_nonce';

  constructor(
    readonly nonce: string,
    detail: string,
  ) {
    super('the DPoP proof must carry the nonce from the DPoP-Nonce header', detail);
  }
}

/**
 * Over a failure budget (see protection/failure-budget.ts). RFC 6749 has no code for this;
 * the answer keeps its JSON form, with HTTP's own 429 and Retry-After.
 */
export class TooManyRequests extends OAuthError {
  override readonly status = 429;
  override readonly error = 'too_many_requests';
  /** Private (never serialised with the error): see presentedClientId. */
  readonly #presentedClientId: string | undefined;

  constructor(
    /** How long the caller must wait, in milliseconds. */
    readonly retryAfterMs: number,
    /**
     * The client_id the request presented, when it has the form of one (see
     * presentedClientId); the public description and private detail, if not a failure budget's.
     */
    options: { presentedClientId?: string | undefined; description?: string; detail?: string } = {},
  ) {
    super(
      options.description ?? `too many failed client authentications; retry after ${Math.ceil(retryAfterMs / 1000)} s`,
      options.detail ?? 'over its failure budget',
    );
    this.#presentedClientId = options.presentedClientId;
  }

  /**
   * The client_id the refused request presented (nothing was looked up), for the audit
   * trail to name the client if one has it (see DenialRecorder); undefined when it did
   * not have the form of a client_id (it may be anything, a misplaced secret included).
   */
  presentedClientId(): string | undefined {
    return this.#presentedClientId;
  }

  override get holdBackMs(): number {
    return this.retryAfterMs;
  }
}

/**
 * The client has had its token quota for the UTC hour or day (policy/quota.ts, mode
 * `enforce`): 429 with Retry-After until that window ends. Held back like any 429 (at most
 * AUTH_THROTTLE_DELAY_MS): the refusal costs little after an authentication that is
 * usually remembered, and a client that ignores Retry-After would otherwise crowd out the
 * others with refusals.
 */
export class QuotaExceeded extends TooManyRequests {
  constructor(retryAfterMs: number, window: 'hour' | 'day') {
    super(retryAfterMs, {
      description: `token quota for this ${window} (UTC) reached; retry after ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s`,
      detail: `over its token quota per ${window}`,
    });
  }
}

/** The issuance hook denied the token (policy/hook.ts): 403, with the hook's description. */
export class AccessDenied extends OAuthError {
  override readonly status = 403;
  override readonly error = 'access_denied';
}

/**
 * The server cannot answer now (database unreachable, verification queue full), the code
 * RFC 6749 §4.1.2.1 defines for it, with 503 and Retry-After.
 */
export class TemporarilyUnavailable extends OAuthError {
  override readonly status = 503;
  override readonly error = 'temporarily_unavailable';

  constructor(
    detail: string,
    readonly retryAfterMs = 1000,
  ) {
    super('the server is temporarily unable to handle the request; retry later', detail);
  }
}

/**
 * The argon2 verification queue is full (protection/admission.ts): refused before any
 * work, so as cheap to answer as a 429, and held back like one. Measured: answered at
 * once, 20 flooding connections asked again about 430 times a second and took a third of
 * a legitimate client's tokens. (A database outage is not held back: its 503 is no flood's.)
 */
export class VerificationQueueFull extends TemporarilyUnavailable {
  constructor() {
    super('argon2 verification queue full');
  }

  override get holdBackMs(): number {
    return this.retryAfterMs;
  }
}

/** Not an RFC 6749 code, but the form RFC 6749 errors take for an oversized body. */
export class RequestTooLarge extends OAuthError {
  override readonly status = 413;
  override readonly error = 'invalid_request';
}

/** Fastify's error for a body over the route's limit. */
const BODY_TOO_LARGE = 'FST_ERR_CTP_BODY_TOO_LARGE';

/**
 * Any error as the OAuth error it answers with, or undefined for a server failure (500):
 * the database being unreachable or the verification queue full is a 503 the caller may
 * retry; what Fastify refuses while reading the request (bad content length, oversized
 * body…) is the caller's invalid_request.
 */
export function toOAuthError(error: unknown): OAuthError | undefined {
  if (error instanceof OAuthError) return error;
  if (isDatabaseUnavailable(error)) return new TemporarilyUnavailable('database unavailable');
  if (error instanceof Overloaded) return new VerificationQueueFull();
  if (!(error instanceof Error)) return undefined;
  const { code, statusCode } = error as Error & { code?: unknown; statusCode?: unknown };
  if (code === BODY_TOO_LARGE) return new RequestTooLarge('request body too large');
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return new InvalidRequest(error.message);
  return undefined;
}

/**
 * Names the client a refusal concerns, for the log and the audit trail, unless a step
 * nearer the cause already did: the client_id itself once a client with it was found,
 * otherwise only a fingerprint of what was presented (it may be a misplaced secret).
 */
export function concerning(error: unknown, client: ClientReference): unknown {
  return error instanceof OAuthError ? error.concerns(client) : error;
}
