/**
 * OAuth 2.0 errors (RFC 6749 §5.2, RFC 8707 §2). Each carries the public `error` code and
 * description sent to the caller, and a private `detail` that only reaches the log and the
 * audit trail: the caller of a failed authentication never learns why it failed.
 */
export class OAuthError extends Error {
  readonly status: number = 400;
  readonly error: string = 'invalid_request';
  /** The client_id the refused request named, once known (for log and audit only). */
  clientId: string | undefined;

  /**
   * Names the client a refusal concerns. The caller chose that text: only its start is
   * kept, and characters that a log line or a PostgreSQL text column cannot hold (control
   * characters, NUL among them, and lone UTF-16 surrogates) become U+FFFD.
   */
  attributeTo(clientId: string): this {
    const start = clientId.length > 128 ? `${clientId.slice(0, 128)}…` : clientId;
    this.clientId = start.replace(/[\u0000-\u001f\u007f]|[\ud800-\udfff]/gu, '\ufffd');
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

  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export class InvalidRequest extends OAuthError {
  override readonly error = 'invalid_request';
}

/** Every failed client authentication looks exactly like this to the caller. */
export class InvalidClient extends OAuthError {
  override readonly status = 401;
  override readonly error = 'invalid_client';

  constructor(
    detail: string,
    /** Whether the caller tried HTTP Basic (then the answer carries WWW-Authenticate). */
    readonly triedBasic = false,
  ) {
    super('client authentication failed', detail);
  }
}

export class UnauthorizedClient extends OAuthError {
  override readonly error = 'unauthorized_client';
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

/** Not an RFC 6749 code, but the form RFC 6749 errors take for an oversized body. */
export class RequestTooLarge extends OAuthError {
  override readonly status = 413;
  override readonly error = 'invalid_request';
}
