/**
 * A trusted issuer's JWT presented as a grant rather than as a client's credentials: the
 * subject token of a token exchange, or the assertion of the JWT bearer grant. Checked as
 * every platform token is, by federation/platform-tokens.ts.
 */
export {
  PlatformTokenRejected,
  type PlatformTokenUse,
  type VerifiedPlatformToken,
  verifyPlatformToken,
} from '../../federation/platform-tokens.js';
