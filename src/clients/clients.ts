import { eq } from 'drizzle-orm';
import { exportJWK, importJWK, type JWK } from 'jose';
import { type Actor, actorName, recordChange } from '../audit/events.js';
import type { Db, DbOrTx } from '../db/connect.js';
import { clientGrants, clientIpRanges, clientSecrets, clients } from '../db/schema.js';
import { ConflictError, type FieldError, NotFoundError, ValidationError } from '../lib/errors.js';
import { normalizeCidr } from '../lib/networks.js';
import { parseTimestamp } from '../lib/time.js';
import { checkClaims } from '../policy/claims.js';
import { toStoredQuota } from '../policy/quota.js';
import { type ClientResource, type CreateClientInput, type GrantInput, PRIVATE_JWK_MEMBERS } from '../schemas/clients.js';
import type { AuthMethod } from '../schemas/enums.js';
import { lockServicesForGrant } from '../services/services.js';
import { clientStatus, generateClientId, isValidClientId, serviceAccountUsername } from './rules.js';
import { generateSecret, storedSecret } from './secrets.js';

/**
 * Validates grants against the service catalogue; returns the field errors found. Call it
 * in the transaction that writes the grants: it locks the services it finds (see
 * lockServicesForGrant), so what it checked still holds when the grants are written.
 */
export async function checkGrants(tx: DbOrTx, grants: GrantInput[]): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const known = await lockServicesForGrant(
    tx,
    grants.map((grant) => grant.service),
  );
  const seen = new Set<string>();
  grants.forEach((grant, i) => {
    const service = known.get(grant.service);
    if (service === undefined) {
      errors.push({ path: `/grants/${i}/service`, message: `unknown service "${grant.service}"` });
      return;
    }
    if (seen.has(grant.service)) errors.push({ path: `/grants/${i}/service`, message: `service "${grant.service}" is granted twice` });
    seen.add(grant.service);
    grant.scopes.forEach((scope, j) => {
      if (!service.scopes.includes(scope)) {
        errors.push({ path: `/grants/${i}/scopes/${j}`, message: `service "${grant.service}" has no scope "${scope}"` });
      }
    });
  });
  return errors;
}

/** Normalises IP ranges; records a field error for each one that is not a network. */
export function checkIpRanges(ranges: string[], errors: FieldError[]): string[] {
  const normalized: string[] = [];
  ranges.forEach((range, i) => {
    const cidr = normalizeCidr(range);
    if (cidr === undefined) errors.push({ path: `/ip_ranges/${i}`, message: `"${range}" is not an IPv4 or IPv6 address or CIDR` });
    else if (!normalized.includes(cidr)) normalized.push(cidr);
  });
  return normalized;
}

export function checkExpiry(expiresAt: string | null | undefined, errors: FieldError[], now = Date.now()): Date | null {
  if (expiresAt === undefined || expiresAt === null) return null;
  const date = parseTimestamp(expiresAt);
  if (date === undefined) {
    errors.push({ path: '/expires_at', message: 'must be an RFC 3339 date-time in the years 1 to 9999' });
    return null;
  }
  if (date.getTime() <= now) errors.push({ path: '/expires_at', message: 'must be in the future' });
  return date;
}

/**
 * Creates a client with a new secret (or the given bootstrap secret), its grants and IP
 * ranges, in one transaction with its audit event. Returns the resource and the secret,
 * which is never stored or shown again.
 */
export async function createClient(
  db: Db,
  input: CreateClientInput,
  actor: Actor,
  /**
   * `secret`: only for BOOTSTRAP_ADMIN_CLIENT_SECRET, which the operator chooses; every
   * other client gets a generated one. `now`: the time the returned resource's status is for.
   */
  options: { secret?: string; now?: number } = {},
): Promise<{ client: ClientResource; clientSecret: string | undefined }> {
  const errors: FieldError[] = [];
  const clientId = input.client_id ?? generateClientId();
  if (!isValidClientId(clientId)) {
    errors.push({ path: '/client_id', message: '3–64 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit' });
  }
  const grants = input.grants ?? [];
  const ipRanges = checkIpRanges(input.ip_ranges ?? [], errors);
  const expiresAt = checkExpiry(input.expires_at, errors);
  const authMethod = input.auth_method ?? 'client_secret';
  const { jwks, jwksUri } = await checkClientKeys(authMethod, input.jwks, input.jwks_uri, errors);
  const claims = input.claims ?? {};
  checkClaims(claims, errors);
  const tokenQuota = toStoredQuota(input.token_quota ?? null);

  // private_key_jwt clients prove themselves with their key and have no secret at all.
  // The hash is made before the transaction (it takes milliseconds of CPU), and only for
  // input that is valid so far.
  const clientSecret = authMethod === 'client_secret' ? (options.secret ?? generateSecret()) : undefined;
  const stored = clientSecret === undefined || errors.length > 0 ? undefined : await storedSecret(clientSecret);
  const inserted = await db.transaction(async (tx) => {
    errors.push(...(await checkGrants(tx, grants)));
    if (errors.length > 0) throw new ValidationError(errors);
    const [row] = await tx
      .insert(clients)
      .values({
        clientId,
        name: input.name,
        description: input.description ?? '',
        owner: input.owner,
        createdBy: actorName(actor),
        firstName: input.first_name ?? null,
        lastName: input.last_name ?? null,
        roles: input.roles ?? [],
        expiresAt,
        authMethod,
        jwks,
        jwksUri,
        dpopBound: input.dpop_bound ?? false,
        accessTokenTtl: input.access_token_ttl ?? null,
        claims,
        tokenQuota,
      })
      .onConflictDoNothing({ target: clients.clientId })
      .returning({ id: clients.id });
    if (row === undefined) throw new ConflictError(`a client with client_id "${clientId}" already exists`);
    if (stored !== undefined) await tx.insert(clientSecrets).values({ clientUuid: row.id, ...stored });
    if (grants.length > 0) {
      await tx.insert(clientGrants).values(grants.map((grant) => ({ clientUuid: row.id, serviceId: grant.service, scopes: grant.scopes })));
    }
    if (ipRanges.length > 0) {
      await tx.insert(clientIpRanges).values(ipRanges.map((cidr) => ({ clientUuid: row.id, cidr })));
    }
    await recordChange(tx, {
      action: 'client.created',
      actor,
      clientId,
      details: {
        name: input.name,
        owner: input.owner,
        grants,
        ip_ranges: ipRanges,
        expires_at: expiresAt?.toISOString() ?? null,
        auth_method: authMethod,
        ...(jwksUri !== null && { jwks_uri: jwksUri }),
        dpop_bound: input.dpop_bound ?? false,
        ...(input.access_token_ttl !== undefined && input.access_token_ttl !== null && { access_token_ttl: input.access_token_ttl }),
        ...(Object.keys(claims).length > 0 && { claims }),
        ...(tokenQuota !== null && { token_quota: tokenQuota }),
      },
    });
    return row;
  });
  const client = await getClient(db, clientId, options.now);
  if (client === undefined || client.service_account.id !== inserted.id) throw new NotFoundError(`client "${clientId}" vanished`);
  return { client, clientSecret };
}

/**
 * The keys of a client: private_key_jwt needs exactly one of a JWKS of public keys (at most
 * 10, each importable) or an https jwks_uri; client_secret takes neither. Returns what to
 * store (null for what the client does not have), recording a field error for each problem.
 */
export async function checkClientKeys(
  authMethod: AuthMethod,
  jwks: { keys: unknown[] } | null | undefined,
  jwksUri: string | null | undefined,
  errors: FieldError[],
): Promise<{ jwks: { keys: JWK[] } | null; jwksUri: string | null }> {
  if (authMethod === 'client_secret') {
    if (jwks !== undefined && jwks !== null) errors.push({ path: '/jwks', message: 'only private_key_jwt clients have a jwks' });
    if (jwksUri !== undefined && jwksUri !== null)
      errors.push({ path: '/jwks_uri', message: 'only private_key_jwt clients have a jwks_uri' });
    return { jwks: null, jwksUri: null };
  }
  const hasJwks = jwks !== undefined && jwks !== null;
  const hasUri = jwksUri !== undefined && jwksUri !== null;
  if (hasJwks && hasUri) {
    errors.push({ path: '/jwks_uri', message: 'give either jwks or jwks_uri, not both' });
    return { jwks: null, jwksUri: null };
  }
  if (hasUri) {
    const problem = jwksUriProblem(jwksUri);
    if (problem !== undefined) errors.push({ path: '/jwks_uri', message: problem });
    return { jwks: null, jwksUri };
  }
  return { jwks: await checkClientJwks(jwks, errors), jwksUri: null };
}

/**
 * What is wrong with a jwks_uri, or undefined. Syntax only: where it leads is checked
 * each time it is fetched (a host name can resolve elsewhere tomorrow).
 */
function jwksUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute https URL';
  }
  if (url.protocol !== 'https:') return 'must be an https URL';
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  if (url.hash !== '' || uri.includes('#')) return 'must not contain a fragment';
  return undefined;
}

/** A JWKS of public keys (at least one, each importable), or a field error. */
async function checkClientJwks(jwks: { keys: unknown[] } | null | undefined, errors: FieldError[]): Promise<{ keys: JWK[] } | null> {
  if (jwks === undefined || jwks === null || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    errors.push({ path: '/jwks', message: 'private_key_jwt requires a jwks with at least one public key, or a jwks_uri' });
    return null;
  }
  const keys: JWK[] = [];
  for (const [i, key] of jwks.keys.entries()) {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) {
      errors.push({ path: `/jwks/keys/${i}`, message: 'must be a JWK object' });
      continue;
    }
    const jwk = key as JWK;
    if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) {
      errors.push({ path: `/jwks/keys/${i}`, message: 'must be a public key: private or symmetric key material is refused' });
      continue;
    }
    const stored = await storablePublicKey(jwk);
    if (stored === undefined) errors.push({ path: `/jwks/keys/${i}`, message: 'is not a usable public key (kty EC, RSA or OKP)' });
    else keys.push(stored);
  }
  return { keys };
}

/**
 * The key as it is stored: the members that define the public key, as jose exports them,
 * plus the kid, alg and use the admin gave (the schema checks those). Nothing else of the
 * submitted object is kept. Undefined when it is not a usable EC, RSA or OKP public key.
 */
async function storablePublicKey(jwk: JWK): Promise<JWK | undefined> {
  if (jwk.kty !== 'EC' && jwk.kty !== 'RSA' && jwk.kty !== 'OKP') return undefined;
  let publicKey: Awaited<ReturnType<typeof importJWK>>;
  try {
    publicKey = await importJWK(jwk, jwk.alg ?? defaultAlgFor(jwk));
  } catch {
    return undefined;
  }
  const { kid, alg, use } = jwk;
  return {
    ...(await exportJWK(publicKey)),
    ...(kid !== undefined && { kid }),
    ...(alg !== undefined && { alg }),
    ...(use !== undefined && { use }),
  };
}

function defaultAlgFor(jwk: JWK): string {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  if (jwk.crv === 'P-384') return 'ES384';
  if (jwk.crv === 'P-521') return 'ES512';
  return 'ES256';
}

/** One client as the admin API shows it, or undefined. */
export async function getClient(db: DbOrTx, clientId: string, now = Date.now()): Promise<ClientResource | undefined> {
  const row = await db.query.clients.findFirst({
    where: eq(clients.clientId, clientId),
    with: { grants: true, ipRanges: true },
  });
  return row === undefined ? undefined : toClientResource(row, now);
}

type ClientRowWithRelations = typeof clients.$inferSelect & {
  grants: Array<typeof clientGrants.$inferSelect>;
  ipRanges: Array<typeof clientIpRanges.$inferSelect>;
};

export function toClientResource(row: ClientRowWithRelations, now = Date.now()): ClientResource {
  return {
    client_id: row.clientId,
    name: row.name,
    description: row.description,
    owner: row.owner,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    first_name: row.firstName,
    last_name: row.lastName,
    roles: row.roles,
    grants: row.grants
      .map((grant) => ({ service: grant.serviceId, scopes: grant.scopes }))
      .sort((a, b) => a.service.localeCompare(b.service)),
    ip_ranges: row.ipRanges.map((range) => range.cidr).sort(),
    auth_method: row.authMethod,
    jwks: row.jwks ?? null,
    jwks_uri: row.jwksUri,
    expires_at: row.expiresAt?.toISOString() ?? null,
    enabled: row.enabled,
    dpop_bound: row.dpopBound,
    access_token_ttl: row.accessTokenTtl,
    claims: row.claims,
    token_quota: row.tokenQuota ?? null,
    status: clientStatus({ enabled: row.enabled, expiresAt: row.expiresAt }, now),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    service_account: { id: row.id, username: serviceAccountUsername(row.clientId) },
  };
}

/**
 * The API's answer to a change that may have made a secret (create, or a switch to
 * client_secret): the client, and the secret beside it this once.
 */
export function withClientSecret<T extends object>(outcome: {
  client: T;
  clientSecret: string | undefined;
}): T | (T & { client_secret: string }) {
  const { client, clientSecret } = outcome;
  return clientSecret === undefined ? client : { ...client, client_secret: clientSecret };
}
