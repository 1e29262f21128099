import { createHash, type JsonWebKey, type X509Certificate } from 'node:crypto';
import { and, asc, eq, gt, isNull, or } from 'drizzle-orm';
import ipaddr from 'ipaddr.js';
import type { JWK } from 'jose';
import type { DbOrTx } from '../db/connect.js';
import { clientCredentials, clients, clientTlsIdentities } from '../db/schema.js';
import type { FieldError } from '../lib/errors.js';
import {
  CertificateFormatError,
  certificateNames,
  DistinguishedNameSyntaxError,
  distinguishedNameKey,
  parseDistinguishedName,
} from '../lib/x509.js';
import type { AuthMethod, TlsIdentityKind } from '../schemas/enums.js';
import { jwkThumbprint } from './public-keys.js';

/**
 * Clients that authenticate with a TLS client certificate (RFC 8705 §2), and the one rule
 * of what a certificate proves: what a client registers (its TLS identities), what a
 * presented certificate shows, and whether the two match. No HTTP in here; where the
 * certificate came from is tls/client-certificate.ts's business.
 */

/** One thing a certificate must show: what the admin registered, and its comparison form. */
export interface TlsIdentity {
  kind: TlsIdentityKind;
  value: string;
  matchKey: string;
}

/** The admin API's fields of a tls_client_auth client (RFC 8705 §2.1.2 names), each naming one thing the certificate shows. */
export const TLS_CLIENT_AUTH_FIELDS = {
  tls_client_auth_subject_dn: 'subject_dn',
  tls_client_auth_san_dns: 'san_dns',
  tls_client_auth_san_uri: 'san_uri',
  tls_client_auth_san_ip: 'san_ip',
  tls_client_auth_san_email: 'san_email',
} as const satisfies Record<string, TlsIdentityKind>;
export type TlsClientAuthField = keyof typeof TLS_CLIENT_AUTH_FIELDS;
export type TlsClientAuthInput = { [F in TlsClientAuthField]?: string | null | undefined };

/** Whether `method` authenticates with a certificate. */
export function isCertificateMethod(method: AuthMethod): method is 'tls_client_auth' | 'self_signed_tls_client_auth' {
  return method === 'tls_client_auth' || method === 'self_signed_tls_client_auth';
}

/** The comparison form of a registered value, or what is wrong with it. */
function registeredKey(kind: Exclude<TlsIdentityKind, 'public_key'>, value: string): { key: string } | { problem: string } {
  switch (kind) {
    case 'subject_dn':
      try {
        return { key: distinguishedNameKey(parseDistinguishedName(value)) };
      } catch (error) {
        if (error instanceof DistinguishedNameSyntaxError) return { problem: `is not an RFC 4514 distinguished name: ${error.message}` };
        throw error;
      }
    case 'san_dns':
      if (!/^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(value)) {
        return { problem: 'is not a DNS name' };
      }
      return { key: value.toLowerCase() };
    case 'san_uri':
      // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters and spaces is the point.
      if (!/^[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]+$/.test(value)) return { problem: 'is not an absolute URI' };
      return { key: value };
    case 'san_ip':
      if (!ipaddr.isValid(value) || (!value.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(value))) {
        return { problem: 'is not an IP address' };
      }
      return { key: ipaddr.parse(value).toString() };
    case 'san_email': {
      const at = value.lastIndexOf('@');
      if (at <= 0 || at === value.length - 1 || /\s/.test(value)) return { problem: 'is not an email address' };
      return { key: emailKey(value) };
    }
  }
}

/** An address's comparison form: the domain's case does not matter, the local part's does. */
function emailKey(address: string): string {
  const at = address.lastIndexOf('@');
  return `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
}

/**
 * The TLS identities a client of `method` is to have, checked: a tls_client_auth client
 * names exactly one of the five fields; other methods have none, and may not give the
 * fields. A self_signed_tls_client_auth client's keys are its public-key credentials (as a
 * private_key_jwt client's), not identities (see certificateKeyCredential). Records a field
 * error per problem.
 */
export async function checkTlsIdentities(
  method: AuthMethod,
  input: TlsClientAuthInput,
  _jwks: { keys: JWK[] } | null,
  errors: FieldError[],
): Promise<TlsIdentity[]> {
  const given = (Object.keys(TLS_CLIENT_AUTH_FIELDS) as TlsClientAuthField[]).filter(
    (field) => input[field] !== undefined && input[field] !== null,
  );
  if (method !== 'tls_client_auth') {
    for (const field of given) errors.push({ path: `/${field}`, message: 'only tls_client_auth clients have it' });
    return [];
  }
  if (given.length !== 1) {
    errors.push({
      path: given.length === 0 ? '/tls_client_auth_subject_dn' : `/${given[1]}`,
      message: 'a tls_client_auth client needs exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email',
    });
    return [];
  }
  const field = given[0] as TlsClientAuthField;
  const value = input[field] as string;
  const kind = TLS_CLIENT_AUTH_FIELDS[field];
  const checked = registeredKey(kind, value);
  if ('problem' in checked) {
    errors.push({ path: `/${field}`, message: checked.problem });
    return [];
  }
  return [{ kind, value, matchKey: checked.key }];
}

/** Replaces a client's TLS identities (none: removes them all). */
export async function storeTlsIdentities(tx: DbOrTx, clientUuid: string, identities: TlsIdentity[]): Promise<void> {
  await tx.delete(clientTlsIdentities).where(eq(clientTlsIdentities.clientUuid, clientUuid));
  if (identities.length === 0) return;
  await tx.insert(clientTlsIdentities).values(identities.map((identity) => ({ clientUuid, ...identity })));
}

/** A client's TLS identities. */
export async function loadTlsIdentities(db: DbOrTx, clientUuid: string): Promise<TlsIdentity[]> {
  const rows = await db
    .select()
    .from(clientTlsIdentities)
    .where(eq(clientTlsIdentities.clientUuid, clientUuid))
    .orderBy(asc(clientTlsIdentities.kind), asc(clientTlsIdentities.matchKey));
  return rows.map((row) => ({ kind: row.kind, value: row.value, matchKey: row.matchKey }));
}

/** The registered fields of a tls_client_auth client as the admin API shows them (null for the four it does not use). */
export function tlsClientAuthFields(
  identities: ReadonlyArray<{ kind: TlsIdentityKind; value: string }>,
): Record<TlsClientAuthField, string | null> {
  const fields = {} as Record<TlsClientAuthField, string | null>;
  for (const [field, kind] of Object.entries(TLS_CLIENT_AUTH_FIELDS) as Array<[TlsClientAuthField, TlsIdentityKind]>) {
    fields[field] = identities.find((identity) => identity.kind === kind)?.value ?? null;
  }
  return fields;
}

/** What a presented certificate shows, in the comparison forms of TlsIdentity (each kind with its keys). */
export interface CertificateShows {
  keys: Array<{ kind: TlsIdentityKind; matchKey: string }>;
  /**
   * RFC 7638 SHA-256 thumbprint of the certificate's public key: what a self-signed client's
   * credential has. Undefined for a key no JWK holds (DSA, RSA-PSS), which no client registers.
   */
  publicKey: string | undefined;
  /** RFC 8705 §3.1: base64url SHA-256 of the DER, the `x5t#S256` of a bound token. */
  thumbprint: string;
}

/**
 * What each certificate object shows, read once: tls/client-certificate.ts hands the same
 * object to every request of a TLS connection (or of a proxy's repeated header), and the
 * names and the key's thumbprint cost more than the rest of such a request. Shared, so read-only.
 */
const shown = new WeakMap<X509Certificate, CertificateShows | undefined>();

/** Reads what a certificate shows; undefined when its DER does not read as X.509 should. */
export function certificateShows(certificate: X509Certificate): CertificateShows | undefined {
  if (shown.has(certificate)) return shown.get(certificate);
  const shows = readShows(certificate);
  shown.set(certificate, shows);
  return shows;
}

function readShows(certificate: X509Certificate): CertificateShows | undefined {
  let names: ReturnType<typeof certificateNames>;
  try {
    names = certificateNames(certificate);
  } catch (error) {
    if (error instanceof CertificateFormatError) return undefined;
    throw error;
  }
  const publicKey = publicKeyThumbprint(certificate);
  const keys: CertificateShows['keys'] = [
    { kind: 'subject_dn', matchKey: distinguishedNameKey(names.subject) },
    ...names.sans.dns.map((dns) => ({ kind: 'san_dns' as const, matchKey: dns.toLowerCase() })),
    ...names.sans.uri.map((uri) => ({ kind: 'san_uri' as const, matchKey: uri })),
    ...names.sans.ip.map((ip) => ({ kind: 'san_ip' as const, matchKey: ip })),
    ...names.sans.email.map((email) => ({ kind: 'san_email' as const, matchKey: emailKey(email) })),
  ];
  return { keys, publicKey, thumbprint: certificateThumbprint(certificate) };
}

/** The RFC 7638 thumbprint of the certificate's key; undefined when the key has no JWK form (a client's to present, not a 500). */
function publicKeyThumbprint(certificate: X509Certificate): string | undefined {
  let jwk: JsonWebKey;
  try {
    jwk = certificate.publicKey.export({ format: 'jwk' });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_CRYPTO_JWK_UNSUPPORTED_KEY_TYPE') return undefined;
    throw error;
  }
  return jwkThumbprint(jwk as JWK);
}

/** RFC 8705 §3.1's `x5t#S256`: the base64url SHA-256 of the certificate's DER. */
export function certificateThumbprint(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('base64url');
}

/** Whether the certificate shows one of the client's identities (tls_client_auth). */
export function certificateMatches(identities: readonly TlsIdentity[], shows: CertificateShows): boolean {
  return identities.some((identity) => shows.keys.some((key) => key.kind === identity.kind && key.matchKey === identity.matchKey));
}

/**
 * RFC 8705 §2.2: the id of the client's public-key credential whose key the certificate
 * carries (self_signed_tls_client_auth), or undefined. `keys` are the client's live keys:
 * a revoked or expired key authenticates no more by certificate than by assertion.
 */
export function certificateKeyCredential(keys: ReadonlyArray<{ id: string; jwk: JWK }>, shows: CertificateShows): string | undefined {
  if (shows.publicKey === undefined) return undefined;
  return keys.find((key) => jwkThumbprint(key.jwk) === shows.publicKey)?.id;
}

/** More clients than this for one certificate: none of them is "the single client" anyway. */
const MAX_CANDIDATES = 20;

/**
 * The client_ids (at most MAX_CANDIDATES + 1) that the certificate may be of: how a token
 * request without a client_id finds its client. A tls_client_auth client whose subject or
 * SAN it shows (the index on (kind, match_key)), and a self_signed_tls_client_auth client
 * with a live public-key credential of its key (the index on thumbprint).
 */
export async function findClientsByCertificate(db: DbOrTx, shows: CertificateShows, now: number): Promise<string[]> {
  const { publicKey } = shows;
  const [named, keyed] = await Promise.all([
    db
      .selectDistinct({ clientId: clients.clientId })
      .from(clientTlsIdentities)
      .innerJoin(clients, eq(clients.id, clientTlsIdentities.clientUuid))
      .where(
        and(
          eq(clients.authMethod, 'tls_client_auth'),
          or(...shows.keys.map((key) => and(eq(clientTlsIdentities.kind, key.kind), eq(clientTlsIdentities.matchKey, key.matchKey)))),
        ),
      )
      .orderBy(asc(clients.clientId))
      .limit(MAX_CANDIDATES + 1),
    publicKey === undefined
      ? []
      : db
          .selectDistinct({ clientId: clients.clientId })
          .from(clientCredentials)
          .innerJoin(clients, eq(clients.id, clientCredentials.clientUuid))
          .where(
            and(
              eq(clientCredentials.thumbprint, publicKey),
              eq(clientCredentials.kind, 'public_key'),
              isNull(clientCredentials.revokedAt),
              or(isNull(clientCredentials.expiresAt), gt(clientCredentials.expiresAt, new Date(now))),
              eq(clients.authMethod, 'self_signed_tls_client_auth'),
            ),
          )
          .orderBy(asc(clients.clientId))
          .limit(MAX_CANDIDATES + 1),
  ]);
  return [...new Set([...named, ...keyed].map((row) => row.clientId))].sort().slice(0, MAX_CANDIDATES + 1);
}
