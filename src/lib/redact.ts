import { hmacSha256 } from './crypto.js';

/**
 * Every client secret Portier generated before self-identifying secrets (see
 * clients/secrets.ts) starts with this prefix, so that secret scanners and redactSecrets
 * below can recognise one.
 */
export const OPAQUE_SECRET_PREFIX = 'portier_cs_';

/** Every console session token (the cookie of a person signed in) starts with this prefix. */
export const SESSION_TOKEN_PREFIX = 'portier_st_';

/** Anything that looks like a secret Portier generated: its prefix and what follows it. */
const SECRET_SHAPED = new RegExp(`(?:${OPAQUE_SECRET_PREFIX}|${SESSION_TOKEN_PREFIX})[A-Za-z0-9_-]*`, 'g');

/**
 * A self-identifying client secret, under any SECRET_PREFIX (see clients/secrets.ts), or a
 * beginning of one: the prefix and credential id stay (they are no secret, and say which
 * credential it was), the rest goes.
 */
const SELF_IDENTIFYING_SHAPED = /([0-9A-Za-z]{3,16}_cred_[0-9A-Za-z]{16}_)[0-9A-Za-z_]+/g;

/**
 * Blanks out every secret-shaped run in `text`. Secrets are shown exactly once, in the
 * response that creates them; when one turns up anywhere else (a client that sends its
 * secret as its client_id, a secret pasted into a scope) it must not reach a log line or
 * the audit trail.
 */
export function redactSecrets(text: string): string {
  const named = text.includes('_cred_') ? text.replace(SELF_IDENTIFYING_SHAPED, '$1[redacted]') : text;
  return named.includes(OPAQUE_SECRET_PREFIX) || named.includes(SESSION_TOKEN_PREFIX)
    ? named.replace(SECRET_SHAPED, (found) => `${found.slice(0, OPAQUE_SECRET_PREFIX.length)}[redacted]`)
    : named;
}

/** The longest piece of a caller's parameter that goes into a log line or an audit row. */
export const MAX_ECHOED_LENGTH = 40;

/** A caller's parameter value, cut short, secrets blanked, quoted: safe for a log line. */
export function quoteParameter(value: string): string {
  const cut = value.length > MAX_ECHOED_LENGTH ? `${value.slice(0, MAX_ECHOED_LENGTH)}…` : value;
  return JSON.stringify(redactSecrets(cut));
}

/** How a log line or an audit row names the client a request was about. */
export type ClientReference =
  /** A client that exists: its client_id is no secret. */
  | { clientId: string }
  /**
   * What the caller presented as a client_id, when no client has it (or it was never
   * looked up): it may be anything, a secret sent in the wrong field included, so only a
   * keyed fingerprint and the length are kept. The same text always gives the same
   * fingerprint, on every instance, so repeated attempts can be told apart and counted.
   */
  | { fingerprint: string; length: number };

/** Fingerprints presented client_ids under a key shared by every instance (see loadFingerprintKey). */
export class ClientFingerprints {
  constructor(private readonly key: Buffer) {}

  of(presented: string): ClientReference {
    return { fingerprint: hmacSha256(this.key, presented).subarray(0, 6).toString('hex'), length: presented.length };
  }
}

/** The fields that name a client in a log line or an audit row's details. */
export function clientFields(client: ClientReference | undefined): {
  client_id?: string;
  presented_client_id?: { fingerprint: string; length: number };
} {
  if (client === undefined) return {};
  return 'clientId' in client ? { client_id: client.clientId } : { presented_client_id: client };
}
