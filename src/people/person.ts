import type { OidcConfig } from '../config.js';
import type { PersonRole } from '../schemas/enums.js';
import { type Claims, claimValue, groupsIn, roleFor } from './roles.js';

/** A person as Portier knows them, from the claims of one sign-in. */
export interface Person {
  /** Stable across sign-ins: the provider's issuer and the person's `sub` there, as `<issuer>#<sub>`. */
  subject: string;
  /** What the console and the records show: `name`, else `email`, else the owner value. */
  name: string;
  /** The value of OIDC_OWNER_CLAIM: the `owner` of the clients that are theirs. */
  owner: string;
  role: PersonRole;
}

/** Why a person who signed in at the provider may not use Portier; the message is theirs to read. */
export class SignInRefused extends Error {
  override readonly name = 'SignInRefused';
}

/** What an owner can be: what the admin API accepts as a client's `owner` (visible ASCII, no spaces). */
const OWNER_SYNTAX = /^[\x21-\x7e]{1,200}$/;

/**
 * Who signed in, from the claims of the ID token and userinfo. Refused (SignInRefused,
 * naming the claim) without a usable owner claim, with an email the provider says is not
 * verified (when the owner is the email: anyone could otherwise take over another's
 * clients by typing their address), or in none of the groups that may use Portier.
 */
export function personFromClaims(issuer: string, claims: Claims, rules: OidcConfig): Person {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') throw new SignInRefused('the identity provider named no subject (sub)');
  const owner = claimValue(claims, rules.ownerClaim);
  if (owner === undefined || owner === null || owner === '') {
    throw new SignInRefused(
      `your account has no "${rules.ownerClaim}" claim, which Portier needs to know which clients are yours; ` +
        'ask your administrator to release it to Portier (OIDC_OWNER_CLAIM)',
    );
  }
  if (typeof owner !== 'string' || !OWNER_SYNTAX.test(owner)) {
    throw new SignInRefused(
      `the "${rules.ownerClaim}" claim of your account is not usable as an owner (one word of at most 200 characters)`,
    );
  }
  if (rules.ownerClaim === 'email' && claims.email_verified === false) {
    throw new SignInRefused(`the identity provider says your email address ${owner} is not verified`);
  }
  const role = roleFor(groupsIn(claimValue(claims, rules.rolesClaim)), rules);
  if (role === undefined) {
    throw new SignInRefused(`your account is in none of the groups that may use Portier (claim "${rules.rolesClaim}")`);
  }
  const shown = [claims.name, claims.email].find((value): value is string => typeof value === 'string' && value.trim() !== '');
  return { subject: `${issuer}#${sub}`, name: (shown ?? owner).trim().slice(0, 200), owner, role };
}
