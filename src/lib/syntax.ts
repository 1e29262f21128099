/** Syntax rules of the OAuth RFCs, for scopes (RFC 6749) and resource indicators (RFC 8707). */

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
export const SCOPE_TOKEN_PATTERN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

export function isValidScopeToken(scope: string): boolean {
  return SCOPE_TOKEN_PATTERN.test(scope);
}

/** RFC 8707 §2: a resource (a service's audience) is an absolute URI without a fragment. */
export function isAbsoluteUriWithoutFragment(value: string): boolean {
  if (value.includes('#') || !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * `value` as an RFC 9110 §5.6.4 quoted-string, for a header parameter: `"` and `\` are
 * escaped with a backslash, and anything a header value cannot hold (control characters,
 * characters beyond Latin-1) becomes `?`, so that no value can break the header.
 */
export function quotedString(value: string): string {
  return `"${value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?').replace(/[\\"]/g, '\\$&')}"`;
}
