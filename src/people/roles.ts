import type { OidcConfig } from '../config.js';
import type { PersonRole } from '../schemas/enums.js';

/** The claims of a person, as the ID token and the userinfo endpoint gave them together. */
export type Claims = Record<string, unknown>;

/**
 * A claim's value: the claim of that name, or, when there is none and the name has dots,
 * the path it spells (`realm_access.roles` in Keycloak's tokens). A name is tried whole
 * first because claim names may themselves hold dots (Auth0's `https://example.com/roles`).
 */
export function claimValue(claims: Claims, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  if (!name.includes('.')) return undefined;
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The groups (or roles) a claim lists: an array of strings, or a single string. Anything else lists none. */
export function groupsIn(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}

/**
 * A person's role from their groups, read again at every sign-in: admin if any group is
 * one of OIDC_ADMIN_ROLES, else auditor (OIDC_AUDITOR_ROLES), else operator
 * (OIDC_OPERATOR_ROLES, where `*` means anyone). Undefined: Portier is not for them.
 */
export function roleFor(
  groups: readonly string[],
  rules: Pick<OidcConfig, 'adminRoles' | 'auditorRoles' | 'operatorRoles'>,
): PersonRole | undefined {
  const inAny = (roles: readonly string[]) => roles.includes('*') || groups.some((group) => roles.includes(group));
  if (inAny(rules.adminRoles)) return 'admin';
  if (inAny(rules.auditorRoles)) return 'auditor';
  if (inAny(rules.operatorRoles)) return 'operator';
  return undefined;
}
