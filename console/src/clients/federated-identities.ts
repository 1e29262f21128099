// The generated types directly, with '.js': this pure module is also compiled with the
// tests (node16 resolution), which test it without a browser.
import type { paths } from '../generated/admin-api.js';
import type { MessageId } from '../i18n/messages/index.js';

type Client = paths['/admin/clients/{client_id}']['get']['responses'][200]['content']['application/json'];
/** A platform identity of a federated client, as the API takes it. */
type FederatedIdentity = NonNullable<
  NonNullable<paths['/admin/clients']['post']['requestBody']>['content']['application/json']['federated_identities']
>[number];

/** The pure part of the identities editor: its rows, and the identities they make. */

/** One identity as the editor holds it: claims as text, one `name=value` per line. */
export interface IdentityRow {
  issuer: string;
  subject: string;
  claims: string;
}

export function identityRows(identities: Client['federated_identities']): IdentityRow[] {
  return identities.map((identity) => ({
    issuer: identity.issuer,
    subject: identity.subject,
    claims: Object.entries(identity.claims)
      .map(([name, value]) => `${name}=${String(value)}`)
      .join('\n'),
  }));
}

/**
 * The identities the rows make, or the first line of claims that is not `name=value`. A
 * claim's value is text (the console does not send numbers or booleans; the API and CLI do).
 */
export function identitiesFromRows(
  rows: IdentityRow[],
): { ok: true; identities: FederatedIdentity[] } | { ok: false; error: { identity: number; line: string } } {
  const identities: FederatedIdentity[] = [];
  for (const [i, row] of rows.entries()) {
    const claims: Record<string, string> = {};
    for (const line of row.claims.split('\n').map((text) => text.trim())) {
      if (line === '') continue;
      const equals = line.indexOf('=');
      if (equals <= 0) return { ok: false, error: { identity: i + 1, line } };
      claims[line.slice(0, equals).trim()] = line.slice(equals + 1).trim();
    }
    identities.push({ issuer: row.issuer, subject: row.subject.trim(), ...(Object.keys(claims).length > 0 && { claims }) });
  }
  return { ok: true, identities };
}

/** How the console names a client's way of authenticating (every method the API has: a new one is a type error here). */
export const AUTH_METHOD_NAMES = {
  client_secret: 'authMethod.clientSecret',
  private_key_jwt: 'authMethod.privateKeyJwt',
  tls_client_auth: 'authMethod.tls',
  self_signed_tls_client_auth: 'authMethod.selfSignedTls',
  federated: 'authMethod.federated',
} as const satisfies Record<Client['auth_method'], MessageId>;

export function authMethodMessage(method: Client['auth_method']): MessageId {
  return AUTH_METHOD_NAMES[method];
}
