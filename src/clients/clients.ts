import { eq } from 'drizzle-orm';
import type { JWK } from 'jose';
import { ALL_CLIENTS, type ClientVisibility as ClientScope, reaches } from '../access/visibility.js';
import { type Actor, actorDisplayName, actorName, recordChange } from '../audit/events.js';
import type { Db, DbOrTx } from '../db/connect.js';
import { clientCredentials, clientGrants, clientIpRanges, clients } from '../db/schema.js';
import { checkFederatedIdentities } from '../federation/identities.js';
import { storeFederatedIdentities } from '../federation/store.js';
import { ConflictError, type FieldError, NotFoundError, ValidationError } from '../lib/errors.js';
import { normalizeCidr } from '../lib/networks.js';
import { parseTimestamp } from '../lib/time.js';
import { checkClaims } from '../policy/claims.js';
import { toStoredQuota } from '../policy/quota.js';
import type { ClientResource, CreateClientInput, GrantInput } from '../schemas/clients.js';
import type { AuthMethod } from '../schemas/enums.js';
import { isSelfService, lockServicesForGrant } from '../services/services.js';
import { checkTlsIdentities, isCertificateMethod, storeTlsIdentities, type TlsIdentity, tlsClientAuthFields } from './certificates.js';
import { newCredentialExpiry } from './credential-limits.js';
import { publicKeyRows, secretRow } from './credential-rows.js';
import { enforceOperatorLimits, newClientShape } from './operator-limits.js';
import { checkClientJwks, hasKeys, httpsUrlProblem } from './public-keys.js';
import { CLIENT_RESOURCE_RELATIONS, toClientResource } from './resource.js';
import { generateClientId, isValidClientId } from './rules.js';
import { type NewSecret, newCredentialId, newSecret, storedSecret } from './secrets.js';

/**
 * Validates grants against the service catalogue; returns the field errors found. Call it
 * in the transaction that writes the grants: it locks the services it finds (see
 * lockServicesForGrant), so what it checked still holds when the grants are written.
 *
 * Under an owner's scope (an operator) a grant may add only self-service services: one of
 * any other service is answered as an unknown service (operators do not see those), unless
 * the client already holds it (`granted`, as an admin gave it) and the grant keeps or
 * narrows its scopes.
 */
export async function checkGrants(
  tx: DbOrTx,
  grants: GrantInput[],
  scope: ClientScope = ALL_CLIENTS,
  granted: ReadonlyArray<GrantInput> = [],
): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const known = await lockServicesForGrant(
    tx,
    grants.map((grant) => grant.service),
  );
  const kept = (grant: GrantInput) => {
    const before = granted.find((previous) => previous.service === grant.service);
    return before !== undefined && grant.scopes.every((name) => before.scopes.includes(name));
  };
  const seen = new Set<string>();
  grants.forEach((grant, i) => {
    // Acting for others is an admin's to allow: an operator keeps what an admin set, no more.
    if (
      scope.kind === 'owner' &&
      !sameExchange(
        grant,
        granted.find((previous) => previous.service === grant.service),
      )
    ) {
      errors.push({
        path: `/grants/${i}/exchange`,
        message: 'only an admin may set whom a client may act for, or with whose tokens (exchange)',
      });
    }
    const found = known.get(grant.service);
    const service = scope.kind === 'owner' && found !== undefined && !isSelfService(found) && !kept(grant) ? undefined : found;
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

/** Whether a grant's exchange is the one granted before (none for a new grant): lists as sets, no actors as none. */
function sameExchange(grant: GrantInput, before: GrantInput | undefined): boolean {
  const [now, previous] = [grant.exchange, before?.exchange];
  if (now === undefined || previous === undefined) return now === previous;
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((item) => b.includes(item));
  return same(now.subjects, previous.subjects) && same(now.actors ?? [], previous.actors ?? []);
}

/** The rows of a client's grants, as stored. */
export function grantRows(clientUuid: string, grants: GrantInput[]): Array<typeof clientGrants.$inferInsert> {
  return grants.map((grant) => ({ clientUuid, serviceId: grant.service, scopes: grant.scopes, exchange: grant.exchange ?? null }));
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

export function checkExpiry(expiresAt: string | null | undefined, errors: FieldError[], now: number): Date | null {
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
   * `managed`: made by a configuration apply (see config-as-code/), which may delete it again.
   * `scope`: whose client it may be (see ClientScope).
   */
  options: {
    now: number;
    secret?: string;
    prepared?: NewSecret | undefined;
    managed?: boolean;
    scope?: ClientScope;
    /** SECRET_PREFIX, for the new secret. */
    secretPrefix?: string;
    /** CREDENTIAL_MAX_LIFETIME_DAYS: the new secret's or keys' end (see clients/credentials.ts). */
    maxLifetimeDays?: number | undefined;
    /** MAX_CREDENTIALS_PER_CLIENT: the most keys a `jwks` may give (the API, the CLI and an apply pass it). */
    maxCredentialsPerClient?: number | undefined;
  },
): Promise<{ client: ClientResource; clientSecret: string | undefined }> {
  const errors: FieldError[] = [];
  const scope = options.scope ?? ALL_CLIENTS;
  const owner = ownerOfNewClient(input.owner, scope, errors);
  const clientId = input.client_id ?? generateClientId();
  if (!isValidClientId(clientId)) {
    errors.push({ path: '/client_id', message: '3–64 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit' });
  }
  const grants = input.grants ?? [];
  const ipRanges = checkIpRanges(input.ip_ranges ?? [], errors);
  const expiresAt = checkExpiry(input.expires_at, errors, options.now);
  const authMethod = input.auth_method ?? 'client_secret';
  const { jwks, jwksUri } = await checkClientKeys(authMethod, input.jwks, input.jwks_uri, errors, options.maxCredentialsPerClient);
  const tlsIdentities = await checkTlsIdentities(authMethod, input, jwks, errors);
  // RFC 8705 §3: a client that authenticates with a certificate gets tokens bound to it, unless told otherwise.
  const certificateBound = input.tls_client_certificate_bound_access_tokens ?? isCertificateMethod(authMethod);
  const claims = input.claims ?? {};
  checkClaims(claims, errors);
  const tokenQuota = toStoredQuota(input.token_quota ?? null);

  // private_key_jwt and federated clients prove themselves with a signed JWT and have no
  // secret at all. The hash is made before the transaction (it takes milliseconds of CPU),
  // and only for input that is valid so far; a configuration apply makes its new clients'
  // secrets ahead, many at once (`prepared`).
  const secret =
    authMethod !== 'client_secret' || errors.length > 0
      ? undefined
      : (options.prepared ??
        (options.secret !== undefined
          ? { credentialId: newCredentialId(), secret: options.secret, stored: await storedSecret(options.secret) }
          : await newSecret(options.secretPrefix)));
  const inserted = await db.transaction(async (tx) => {
    errors.push(...(await checkGrants(tx, grants, scope)));
    if (errors.length > 0) throw new ValidationError(errors);
    if (scope.kind === 'owner') await enforceOperatorLimits(tx, input, newClientShape(scope.owner));
    const identities = await checkFederatedIdentities(tx, authMethod, input.federated_identities, errors);
    if (errors.length > 0) throw new ValidationError(errors);
    const [row] = await tx
      .insert(clients)
      .values({
        clientId,
        name: input.name,
        description: input.description ?? '',
        owner,
        createdBy: actorName(actor),
        createdByName: actorDisplayName(actor),
        firstName: input.first_name ?? null,
        lastName: input.last_name ?? null,
        roles: input.roles ?? [],
        expiresAt,
        authMethod,
        jwksUri,
        dpopBound: input.dpop_bound ?? false,
        certificateBound,
        managed: options.managed ?? false,
        accessTokenTtl: input.access_token_ttl ?? null,
        claims,
        tokenQuota,
        mayAct: input.may_act ?? null,
      })
      .onConflictDoNothing({ target: clients.clientId })
      .returning({ id: clients.id });
    if (row === undefined) throw new ConflictError(`a client with client_id "${clientId}" already exists`);
    if (grants.length > 0) {
      await tx.insert(clientGrants).values(grantRows(row.id, grants));
    }
    // Its first credentials end where the maximum lifetime for it says (its services' and the configuration's).
    const { expiresAt: credentialsEnd } = await newCredentialExpiry(tx, row.id, options.now, options);
    if (secret !== undefined) await tx.insert(clientCredentials).values(secretRow(row.id, secret, actor, { expiresAt: credentialsEnd }));
    if (jwks !== null && jwks.keys.length > 0) {
      await tx.insert(clientCredentials).values(publicKeyRows(row.id, jwks.keys, actor, { expiresAt: credentialsEnd }));
    }
    if (ipRanges.length > 0) {
      await tx.insert(clientIpRanges).values(ipRanges.map((cidr) => ({ clientUuid: row.id, cidr })));
    }
    await storeFederatedIdentities(tx, row.id, identities);
    await storeTlsIdentities(tx, row.id, tlsIdentities);
    await recordChange(tx, {
      action: 'client.created',
      actor,
      clientId,
      details: {
        name: input.name,
        owner,
        grants,
        ip_ranges: ipRanges,
        expires_at: expiresAt?.toISOString() ?? null,
        auth_method: authMethod,
        ...(jwksUri !== null && { jwks_uri: jwksUri }),
        ...(identities.length > 0 && { federated_identities: input.federated_identities }),
        ...tlsClientAuthDetails(tlsIdentities),
        ...(certificateBound && { tls_client_certificate_bound_access_tokens: true }),
        dpop_bound: input.dpop_bound ?? false,
        ...(options.managed === true && { managed: true }),
        ...(input.access_token_ttl !== undefined && input.access_token_ttl !== null && { access_token_ttl: input.access_token_ttl }),
        ...(Object.keys(claims).length > 0 && { claims }),
        ...(tokenQuota !== null && { token_quota: tokenQuota }),
        ...(input.may_act !== undefined && input.may_act !== null && { may_act: input.may_act }),
      },
    });
    return row;
  });
  const client = await getClient(db, clientId, options.now);
  if (client === undefined || client.service_account.id !== inserted.id) throw new NotFoundError(`client "${clientId}" vanished`);
  return { client, clientSecret: secret?.secret };
}

/**
 * Whose a new client is: the owner given, which an admin must give; under an owner's
 * scope that owner, who may be left out (naming another is refused by the operator's
 * limits, see operator-limits.ts).
 */
function ownerOfNewClient(given: string | undefined, scope: ClientScope, errors: FieldError[]): string {
  if (scope.kind === 'owner') return scope.owner;
  if (given === undefined) errors.push({ path: '/owner', message: 'is required: whose client this is' });
  return given ?? '';
}

/**
 * The keys of a client: private_key_jwt needs exactly one of a JWKS of public keys (at most
 * MAX_CREDENTIALS_PER_CLIENT, each importable, each once) or an https jwks_uri;
 * self_signed_tls_client_auth a JWKS; other methods take neither. Returns what to
 * store (null for what the client does not have), recording a field error for each problem.
 */
export async function checkClientKeys(
  authMethod: AuthMethod,
  jwks: { keys: unknown[] } | null | undefined,
  jwksUri: string | null | undefined,
  errors: FieldError[],
  /** MAX_CREDENTIALS_PER_CLIENT: each key is a live credential (undefined: only the schema's bound). */
  maxKeys?: number | undefined,
): Promise<{ jwks: { keys: JWK[] } | null; jwksUri: string | null }> {
  if (maxKeys !== undefined && jwks !== undefined && jwks !== null && Array.isArray(jwks.keys) && jwks.keys.length > maxKeys) {
    errors.push({
      path: '/jwks/keys',
      message: `has ${jwks.keys.length} keys: each is a credential, and a client holds at most ${maxKeys} (MAX_CREDENTIALS_PER_CLIENT)`,
    });
    return { jwks: null, jwksUri: null };
  }
  if (authMethod === 'self_signed_tls_client_auth') {
    // RFC 8705 §2.2: the keys of its self-signed certificates, registered here (no jwks_uri).
    if (jwksUri !== undefined && jwksUri !== null) {
      errors.push({ path: '/jwks_uri', message: 'a self_signed_tls_client_auth client registers its keys in jwks' });
    }
    if (!hasKeys(jwks)) {
      errors.push({
        path: '/jwks',
        message: 'self_signed_tls_client_auth requires a jwks with the public key of each of its certificates',
      });
      return { jwks: null, jwksUri: null };
    }
    return { jwks: await checkClientJwks(jwks, '/jwks', errors), jwksUri: null };
  }
  if (authMethod !== 'private_key_jwt') {
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
    const problem = httpsUrlProblem(jwksUri);
    if (problem !== undefined) errors.push({ path: '/jwks_uri', message: problem });
    return { jwks: null, jwksUri };
  }
  if (!hasKeys(jwks)) {
    errors.push({ path: '/jwks', message: 'private_key_jwt requires a jwks with at least one public key, or a jwks_uri' });
    return { jwks: null, jwksUri: null };
  }
  return { jwks: await checkClientJwks(jwks, '/jwks', errors), jwksUri: null };
}

/** One client as the admin API shows it, or undefined (also when it is outside `scope`). */
export async function getClient(
  db: DbOrTx,
  clientId: string,
  now: number,
  scope: ClientScope = ALL_CLIENTS,
): Promise<ClientResource | undefined> {
  const row = await db.query.clients.findFirst({
    where: eq(clients.clientId, clientId),
    with: CLIENT_RESOURCE_RELATIONS,
  });
  return row === undefined || !reaches(scope, row.owner) ? undefined : toClientResource(row, now);
}

/** The registered subject or SAN of a tls_client_auth client, for its audit event (nothing for other clients). */
function tlsClientAuthDetails(identities: TlsIdentity[]): Record<string, string> {
  return Object.fromEntries(Object.entries(tlsClientAuthFields(identities)).filter(([, value]) => value !== null)) as Record<
    string,
    string
  >;
}
