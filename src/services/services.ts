import { type Actor, recordChange, SYSTEM_ACTOR } from '../audit/events.js';
import type { Db, DbOrTx } from '../db/connect.js';
import { ConflictError, type FieldError, NotFoundError, ValidationError } from '../lib/errors.js';
import { isAbsoluteUriWithoutFragment, isValidScopeToken } from '../lib/syntax.js';
import { type Claims, checkClaims } from '../policy/claims.js';
import { SERVICE_ID_PATTERN } from '../schemas/common.js';
import type { ServiceInput, ServicePatch, ServiceResource } from '../schemas/services.js';
import {
  clientsGranted,
  deleteServiceRow,
  getServiceRow,
  insertService,
  lockService,
  type ServiceRow,
  serviceIdWithAudience,
  serviceRows,
  updateServiceRow,
} from './store.js';

export { getServiceRow, lockServicesForGrant, type ServiceRow } from './store.js';

/** The built-in service whose tokens open the admin API. */
export const ADMIN_SERVICE_ID = 'portier-admin';
export const ADMIN_SCOPES = ['admin:read', 'admin:write'] as const;

export function adminAudience(issuer: string): string {
  return `${issuer}/admin`;
}

/** ISSUER and the admin audience stored in the database disagree, and no move was asked for. */
export class IssuerMismatchError extends Error {
  override name = 'IssuerMismatchError';
}

/**
 * Creates the built-in `portier-admin` service on the first start. Its audience comes from
 * ISSUER, and every admin token carries it; a process started with another ISSUER (a
 * typo, a CLI run without the servers' environment) must not quietly move it, which would
 * lock every admin out of every instance. So a mismatch is an IssuerMismatchError, unless
 * `moveIssuer` says to move the audience: then it moves, with an audit event, and the
 * cache generation moves with it so every instance follows within a second.
 */
export async function ensureBuiltInServices(db: DbOrTx, issuer: string, options: { moveIssuer?: boolean } = {}): Promise<void> {
  const audience = adminAudience(issuer);
  const current = await getServiceRow(db, ADMIN_SERVICE_ID);
  if (current === undefined) {
    await insertService(db, {
      id: ADMIN_SERVICE_ID,
      name: 'Portier admin API',
      description: 'Manage API clients, services and signing keys of this Portier',
      audience,
      scopes: [...ADMIN_SCOPES],
      builtIn: true,
    });
    return;
  }
  if (current.audience === audience) return;
  if (options.moveIssuer !== true) {
    throw new IssuerMismatchError(
      `ISSUER is ${issuer}, but this database belongs to the issuer whose admin audience is ${current.audience}; ` +
        'start with the ISSUER the other instances use, or move the issuer for good with `portier migrate --move-issuer`',
    );
  }
  await db.transaction(async (tx) => {
    await updateServiceRow(tx, ADMIN_SERVICE_ID, { audience });
    await recordChange(tx, {
      action: 'service.updated',
      actor: SYSTEM_ACTOR,
      details: { service: ADMIN_SERVICE_ID, changes: { audience: { from: current.audience, to: audience } }, reason: 'issuer moved' },
    });
  });
}

/** Whether operators may grant the service to their own clients: marked so, and never the built-in admin service. */
export function isSelfService(row: Pick<ServiceRow, 'selfService' | 'builtIn'>): boolean {
  return row.selfService && !row.builtIn;
}

/**
 * What a service lets operators choose for their own clients granted it: roles from its
 * self_service_roles, a token lifetime up to its self_service_max_access_token_ttl. A
 * service not open to self-service offers nothing, whatever it lists.
 */
export interface SelfServiceOffer {
  roles: readonly string[];
  /** Null: no lifetime of the operators' choosing. */
  maxAccessTokenTtl: number | null;
}

export const NOTHING_OFFERED: SelfServiceOffer = { roles: [], maxAccessTokenTtl: null };

export function selfServiceOffer(row: ServiceRow): SelfServiceOffer {
  if (!isSelfService(row)) return NOTHING_OFFERED;
  return { roles: row.selfServiceRoles, maxAccessTokenTtl: row.selfServiceMaxAccessTokenTtl };
}

export function toServiceResource(row: ServiceRow): ServiceResource {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    audience: row.audience,
    scopes: row.scopes,
    built_in: row.builtIn,
    managed: row.managed,
    self_service: isSelfService(row),
    access_token_ttl: row.accessTokenTtl,
    claims: row.claims,
    self_service_roles: row.selfServiceRoles,
    self_service_max_access_token_ttl: row.selfServiceMaxAccessTokenTtl,
    credential_max_lifetime_days: row.credentialMaxLifetimeDays,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function checkServiceFields(
  input: { audience?: string | undefined; scopes?: string[] | undefined; claims?: Claims | undefined },
  errors: FieldError[],
): void {
  if (input.claims !== undefined) checkClaims(input.claims, errors);
  if (input.audience !== undefined && !isAbsoluteUriWithoutFragment(input.audience)) {
    errors.push({ path: '/audience', message: 'must be an absolute URI without a fragment (RFC 8707)' });
  }
  input.scopes?.forEach((scope, i) => {
    if (!isValidScopeToken(scope)) errors.push({ path: `/scopes/${i}`, message: 'has characters RFC 6749 §3.3 does not allow in a scope' });
    else if (input.scopes?.indexOf(scope) !== i) errors.push({ path: `/scopes/${i}`, message: `"${scope}" is listed twice` });
  });
}

async function audienceTaken(db: DbOrTx, audience: string, exceptId?: string): Promise<boolean> {
  const id = await serviceIdWithAudience(db, audience);
  return id !== undefined && id !== exceptId;
}

/** The catalogue; with `selfServiceOnly` (what operators see) only the services open to self-service. */
export async function listServices(db: DbOrTx, options: { selfServiceOnly?: boolean } = {}): Promise<ServiceResource[]> {
  const rows = await serviceRows(db);
  return rows.filter((row) => options.selfServiceOnly !== true || isSelfService(row)).map(toServiceResource);
}

export async function getService(db: DbOrTx, id: string, options: { selfServiceOnly?: boolean } = {}): Promise<ServiceResource> {
  const row = await getServiceRow(db, id);
  if (row === undefined || (options.selfServiceOnly === true && !isSelfService(row))) throw new NotFoundError(`no service with id "${id}"`);
  return toServiceResource(row);
}

/** `managed`: made by a configuration apply (see config-as-code/), which may delete it again. */
export async function createService(
  db: Db,
  input: ServiceInput,
  actor: Actor,
  options: { managed?: boolean } = {},
): Promise<ServiceResource> {
  const errors: FieldError[] = [];
  if (!SERVICE_ID_PATTERN.test(input.id)) {
    errors.push({ path: '/id', message: '2–64 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit' });
  }
  checkServiceFields(input, errors);
  if (errors.length > 0) throw new ValidationError(errors);
  return db.transaction(async (tx) => {
    // Both the id and the audience are unique: the insert itself finds a conflict on
    // either, also with a concurrent create, and then we say which it was.
    const row = await insertService(tx, {
      id: input.id,
      name: input.name,
      description: input.description ?? '',
      audience: input.audience,
      scopes: input.scopes ?? [],
      managed: options.managed ?? false,
      selfService: input.self_service ?? false,
      accessTokenTtl: input.access_token_ttl ?? null,
      claims: input.claims ?? {},
      selfServiceRoles: input.self_service_roles ?? [],
      selfServiceMaxAccessTokenTtl: input.self_service_max_access_token_ttl ?? null,
      credentialMaxLifetimeDays: input.credential_max_lifetime_days ?? null,
    });
    if (row === undefined) {
      if (await getServiceRow(tx, input.id)) throw new ConflictError(`a service with id "${input.id}" already exists`);
      throw new ConflictError(`another service already has the audience "${input.audience}"`);
    }
    await recordChange(tx, {
      action: 'service.created',
      actor,
      details: {
        service: row.id,
        audience: row.audience,
        scopes: row.scopes,
        self_service: row.selfService,
        ...(row.managed && { managed: true }),
        ...(row.accessTokenTtl !== null && { access_token_ttl: row.accessTokenTtl }),
        ...(Object.keys(row.claims).length > 0 && { claims: row.claims }),
        ...(row.selfServiceRoles.length > 0 && { self_service_roles: row.selfServiceRoles }),
        ...(row.selfServiceMaxAccessTokenTtl !== null && { self_service_max_access_token_ttl: row.selfServiceMaxAccessTokenTtl }),
        ...(row.credentialMaxLifetimeDays !== null && { credential_max_lifetime_days: row.credentialMaxLifetimeDays }),
      },
    });
    return toServiceResource(row);
  });
}

export async function updateService(db: Db, id: string, patch: ServicePatch, actor: Actor): Promise<ServiceResource> {
  const errors: FieldError[] = [];
  if (patch.id !== undefined && patch.id !== id) errors.push({ path: '/id', message: 'a service id cannot be changed' });
  checkServiceFields(patch, errors);
  if (errors.length > 0) throw new ValidationError(errors);
  return db.transaction(async (tx) => {
    const current = await lockService(tx, id);
    if (current === undefined) throw new NotFoundError(`no service with id "${id}"`);
    if (current.builtIn && (patch.audience !== undefined || patch.scopes !== undefined)) {
      throw new ConflictError(`"${id}" is built in: its audience and scopes cannot be changed`);
    }
    const opensToOperators =
      patch.self_service === true ||
      (patch.self_service_roles?.length ?? 0) > 0 ||
      (patch.self_service_max_access_token_ttl ?? null) !== null;
    if (current.builtIn && opensToOperators) {
      throw new ConflictError(`"${id}" is built in and never open to self-service: only admins grant it`);
    }
    if (patch.audience !== undefined && (await audienceTaken(tx, patch.audience, id))) {
      throw new ConflictError(`another service already has the audience "${patch.audience}"`);
    }
    if (patch.scopes !== undefined) {
      const removed = current.scopes.filter((scope) => !patch.scopes?.includes(scope));
      const users = removed.length > 0 ? await clientsGranted(tx, id, removed) : [];
      if (users.length > 0) {
        throw new ConflictError(`scopes ${removed.join(', ')} are still granted to clients: ${users.join(', ')}`, { clients: users });
      }
    }
    const row = await updateServiceRow(tx, id, {
      ...(patch.name !== undefined && { name: patch.name }),
      ...(patch.description !== undefined && { description: patch.description }),
      ...(patch.audience !== undefined && { audience: patch.audience }),
      ...(patch.scopes !== undefined && { scopes: patch.scopes }),
      ...(patch.self_service !== undefined && { selfService: patch.self_service }),
      ...(patch.access_token_ttl !== undefined && { accessTokenTtl: patch.access_token_ttl }),
      ...(patch.claims !== undefined && { claims: patch.claims }),
      ...(patch.self_service_roles !== undefined && { selfServiceRoles: patch.self_service_roles }),
      ...(patch.self_service_max_access_token_ttl !== undefined && {
        selfServiceMaxAccessTokenTtl: patch.self_service_max_access_token_ttl,
      }),
      ...(patch.credential_max_lifetime_days !== undefined && { credentialMaxLifetimeDays: patch.credential_max_lifetime_days }),
    });
    if (row === undefined) throw new NotFoundError(`no service with id "${id}"`);
    // Like client.updated: what each changed field was and became.
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    const fields = {
      name: 'name',
      description: 'description',
      audience: 'audience',
      scopes: 'scopes',
      self_service: 'selfService',
      access_token_ttl: 'accessTokenTtl',
      claims: 'claims',
      self_service_roles: 'selfServiceRoles',
      self_service_max_access_token_ttl: 'selfServiceMaxAccessTokenTtl',
      credential_max_lifetime_days: 'credentialMaxLifetimeDays',
    } as const;
    for (const [field, column] of Object.entries(fields)) {
      if (JSON.stringify(current[column]) !== JSON.stringify(row[column])) changes[field] = { from: current[column], to: row[column] };
    }
    await recordChange(tx, { action: 'service.updated', actor, details: { service: id, changes } });
    return toServiceResource(row);
  });
}

export async function deleteService(db: Db, id: string, actor: Actor): Promise<void> {
  await db.transaction(async (tx) => {
    const current = await lockService(tx, id);
    if (current === undefined) throw new NotFoundError(`no service with id "${id}"`);
    if (current.builtIn) throw new ConflictError(`"${id}" is built in and cannot be deleted`);
    const users = await clientsGranted(tx, id);
    if (users.length > 0) {
      throw new ConflictError(`service "${id}" is still granted to clients: ${users.join(', ')}`, { clients: users });
    }
    await deleteServiceRow(tx, id);
    await recordChange(tx, { action: 'service.deleted', actor, details: { service: id } });
  });
}
