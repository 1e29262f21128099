import type { JSONWebKeySet } from 'jose';
import { type Actor, recordChange } from '../audit/events.js';
import { checkPublicJwks, hasKeys, httpsUrlProblem } from '../clients/public-keys.js';
import type { Db, DbOrTx } from '../db/connect.js';
import { ConflictError, type FieldError, NotFoundError, ValidationError } from '../lib/errors.js';
import { MAX_TOKEN_AGE_BOUNDS, TRUSTED_ISSUER_ID_PATTERN } from '../schemas/common.js';
import { FEDERATED_ALGORITHMS, type FederatedAlgorithm } from '../schemas/enums.js';
import type { TrustedIssuerInput, TrustedIssuerPatch, TrustedIssuerResource } from '../schemas/trusted-issuers.js';
import {
  clientsTrusting,
  deleteTrustedIssuerRow,
  getTrustedIssuerRow,
  insertTrustedIssuer,
  lockTrustedIssuer,
  type TrustedIssuerRow,
  trustedIssuerIdOf,
  trustedIssuerRows,
  updateTrustedIssuerRow,
} from './store.js';

/**
 * Trusted issuers: the platforms (a Kubernetes cluster, GitHub Actions, a SPIFFE trust
 * domain…) whose JWTs federated clients sign in with. Plain functions over the store
 * (store.ts), called by the admin API and the CLI; the token endpoint works from
 * loadTrustedIssuers (through a cache, see federation/platform-tokens.ts).
 */

/** A trusted issuer as the token endpoint uses it. */
export interface TrustedIssuerRecord {
  id: string;
  /** The tokens' `iss`, exactly. */
  issuer: string;
  /** Where its keys are: at jwks_uri, given inline (jwks), or found by discovery (both null). */
  jwksUri: string | null;
  jwks: JSONWebKeySet | null;
  /** What the tokens' `aud` must contain; null: Portier's ISSUER. */
  audience: string | null;
  /** Seconds since `iat` that a token is still accepted. */
  maxTokenAge: number;
  algorithms: FederatedAlgorithm[];
  /** Its tokens may be the subject token of a token exchange (RFC 8693). */
  tokenExchange: boolean;
  /** Its tokens may be the assertion of the JWT bearer grant (RFC 7523 §2.1). */
  jwtBearer: boolean;
}

function toRecord(row: TrustedIssuerRow): TrustedIssuerRecord {
  return {
    id: row.id,
    issuer: row.issuer,
    jwksUri: row.jwksUri,
    jwks: (row.jwks as JSONWebKeySet | null) ?? null,
    audience: row.audience,
    maxTokenAge: row.maxTokenAge,
    algorithms: row.algorithms.filter(isFederatedAlgorithm),
    tokenExchange: row.tokenExchange,
    jwtBearer: row.jwtBearer,
  };
}

function isFederatedAlgorithm(alg: string): alg is FederatedAlgorithm {
  return FEDERATED_ALGORITHMS.some((allowed) => allowed === alg);
}

/** Every trusted issuer, for the token endpoint's cache. */
export async function loadTrustedIssuers(db: DbOrTx): Promise<TrustedIssuerRecord[]> {
  return (await trustedIssuerRows(db)).map(toRecord);
}

export function toTrustedIssuerResource(row: TrustedIssuerRow): TrustedIssuerResource {
  return {
    id: row.id,
    issuer: row.issuer,
    jwks_uri: row.jwksUri,
    jwks: row.jwks ?? null,
    audience: row.audience,
    max_token_age: row.maxTokenAge,
    algorithms: row.algorithms.filter(isFederatedAlgorithm),
    token_exchange: row.tokenExchange,
    jwt_bearer: row.jwtBearer,
    managed: row.managed,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export async function listTrustedIssuers(db: DbOrTx): Promise<TrustedIssuerResource[]> {
  const rows = await trustedIssuerRows(db);
  return rows.map(toTrustedIssuerResource);
}

export async function getTrustedIssuer(db: DbOrTx, id: string): Promise<TrustedIssuerResource> {
  const row = await getTrustedIssuerRow(db, id);
  if (row === undefined) throw new NotFoundError(`no trusted issuer with id "${id}"`);
  return toTrustedIssuerResource(row);
}

/** The fields of an issuer that every write checks: what the schema cannot say. */
interface IssuerFields {
  issuer?: string | undefined;
  max_token_age?: number | undefined;
  algorithms?: FederatedAlgorithm[] | undefined;
}

function checkIssuerFields(input: IssuerFields, errors: FieldError[]): void {
  if (input.issuer !== undefined) {
    const problem = httpsUrlProblem(input.issuer);
    if (problem !== undefined) errors.push({ path: '/issuer', message: problem });
    // RFC 8414 §2 (and OpenID discovery): an issuer has no query; discovery appends to its path.
    else if (new URL(input.issuer).search !== '' || input.issuer.includes('?')) {
      errors.push({ path: '/issuer', message: 'must not contain a query' });
    }
  }
  const age = input.max_token_age;
  if (age !== undefined && !(Number.isInteger(age) && age >= MAX_TOKEN_AGE_BOUNDS.min && age <= MAX_TOKEN_AGE_BOUNDS.max)) {
    errors.push({
      path: '/max_token_age',
      message: `must be a whole number of seconds from ${MAX_TOKEN_AGE_BOUNDS.min} to ${MAX_TOKEN_AGE_BOUNDS.max}`,
    });
  }
  input.algorithms?.forEach((alg, i) => {
    if (!isFederatedAlgorithm(alg)) errors.push({ path: `/algorithms/${i}`, message: `must be one of ${FEDERATED_ALGORITHMS.join(', ')}` });
  });
}

/**
 * Where the issuer's keys are: at most one of jwks_uri and jwks (neither: the issuer's
 * discovery document says). Returns what to store, recording a field error for each problem.
 */
export async function checkIssuerKeys(
  jwks: { keys: unknown[] } | null | undefined,
  jwksUri: string | null | undefined,
  errors: FieldError[],
): Promise<{ jwks: { keys: Array<Record<string, unknown>> } | null; jwksUri: string | null }> {
  const hasUri = jwksUri !== undefined && jwksUri !== null;
  if (hasUri && jwks !== undefined && jwks !== null) {
    errors.push({ path: '/jwks_uri', message: 'give either jwks or jwks_uri (or neither, for discovery), not both' });
    return { jwks: null, jwksUri: null };
  }
  if (hasUri) {
    const problem = httpsUrlProblem(jwksUri);
    if (problem !== undefined) errors.push({ path: '/jwks_uri', message: problem });
    return { jwks: null, jwksUri };
  }
  if (jwks === undefined || jwks === null) return { jwks: null, jwksUri: null };
  if (!hasKeys(jwks)) {
    errors.push({ path: '/jwks', message: 'must hold at least one public key' });
    return { jwks: null, jwksUri: null };
  }
  const checked = await checkPublicJwks(jwks, '/jwks', errors);
  return { jwks: { keys: checked.keys as Array<Record<string, unknown>> }, jwksUri: null };
}

/** The id's rule, beside the schema's: the CLI and other callers of the plain function get it too. */
function checkId(id: string, errors: FieldError[]): void {
  if (!TRUSTED_ISSUER_ID_PATTERN.test(id)) errors.push({ path: '/id', message: '3–64 characters of a-z, 0-9, ".", "_" and "-"' });
}

/** `managed`: made by a configuration apply (see config-as-code/), which may delete it again. */
export async function createTrustedIssuer(
  db: Db,
  input: TrustedIssuerInput,
  actor: Actor,
  options: { managed?: boolean } = {},
): Promise<TrustedIssuerResource> {
  const errors: FieldError[] = [];
  checkId(input.id, errors);
  checkIssuerFields(input, errors);
  const keys = await checkIssuerKeys(input.jwks, input.jwks_uri, errors);
  if (errors.length > 0) throw new ValidationError(errors);
  return db.transaction(async (tx) => {
    // Both the id and the issuer are unique: the insert finds a conflict on either, also
    // with a concurrent create, and then we say which it was.
    const row = await insertTrustedIssuer(tx, {
      id: input.id,
      issuer: input.issuer,
      jwksUri: keys.jwksUri,
      jwks: keys.jwks,
      audience: input.audience ?? null,
      maxTokenAge: input.max_token_age ?? MAX_TOKEN_AGE_BOUNDS.default,
      algorithms: [...(input.algorithms ?? FEDERATED_ALGORITHMS)],
      tokenExchange: input.token_exchange ?? false,
      jwtBearer: input.jwt_bearer ?? false,
      managed: options.managed ?? false,
    });
    if (row === undefined) {
      const sameId = await getTrustedIssuerRow(tx, input.id);
      if (sameId !== undefined) throw new ConflictError(`a trusted issuer with id "${input.id}" already exists`);
      throw new ConflictError(`another trusted issuer already has the issuer "${input.issuer}"`);
    }
    const resource = toTrustedIssuerResource(row);
    await recordChange(tx, {
      action: 'trusted_issuer.created',
      actor,
      details: { trusted_issuer: resource.id, ...auditedFields(resource), ...(resource.managed && { managed: true }) },
    });
    return resource;
  });
}

/** What the audit trail keeps of an issuer: its settings, and of inline keys only their kids. */
function auditedFields(resource: TrustedIssuerResource): Record<string, unknown> {
  const { id: _id, managed: _managed, created_at: _created, updated_at: _updated, jwks, ...fields } = resource;
  return { ...fields, jwks: jwks === null ? null : { kids: jwks.keys.map((key) => (key as { kid?: unknown }).kid ?? null) } };
}

/**
 * Applies a PATCH: the given fields replace the stored ones; the id is fixed forever. Giving
 * one of jwks and jwks_uri drops the other; setting the given one to null (with the other
 * null) turns to discovery. The change, its audit event and the cache generation bump are
 * one transaction: every instance uses the new settings within a second.
 */
export async function updateTrustedIssuer(db: Db, id: string, patch: TrustedIssuerPatch, actor: Actor): Promise<TrustedIssuerResource> {
  const errors: FieldError[] = [];
  if (patch.id !== undefined && patch.id !== id) errors.push({ path: '/id', message: 'a trusted issuer id cannot be changed' });
  checkIssuerFields(patch, errors);
  const keysChanged = patch.jwks !== undefined || patch.jwks_uri !== undefined;
  const keys = keysChanged ? await checkIssuerKeys(patch.jwks ?? null, patch.jwks_uri ?? null, errors) : undefined;
  if (errors.length > 0) throw new ValidationError(errors);
  return db.transaction(async (tx) => {
    const current = await lockTrustedIssuer(tx, id);
    if (current === undefined) throw new NotFoundError(`no trusted issuer with id "${id}"`);
    if (patch.issuer !== undefined && patch.issuer !== current.issuer) {
      const other = await trustedIssuerIdOf(tx, patch.issuer);
      if (other !== undefined) throw new ConflictError(`another trusted issuer already has the issuer "${patch.issuer}"`);
    }
    const row = await updateTrustedIssuerRow(tx, id, {
      ...(patch.issuer !== undefined && { issuer: patch.issuer }),
      ...(keys !== undefined && { jwks: keys.jwks, jwksUri: keys.jwksUri }),
      ...(patch.audience !== undefined && { audience: patch.audience }),
      ...(patch.max_token_age !== undefined && { maxTokenAge: patch.max_token_age }),
      ...(patch.algorithms !== undefined && { algorithms: [...patch.algorithms] }),
      ...(patch.token_exchange !== undefined && { tokenExchange: patch.token_exchange }),
      ...(patch.jwt_bearer !== undefined && { jwtBearer: patch.jwt_bearer }),
    });
    if (row === undefined) throw new NotFoundError(`no trusted issuer with id "${id}"`);
    const before = auditedFields(toTrustedIssuerResource(current));
    const after = auditedFields(toTrustedIssuerResource(row));
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const field of Object.keys(after)) {
      if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) changes[field] = { from: before[field], to: after[field] };
    }
    await recordChange(tx, { action: 'trusted_issuer.updated', actor, details: { trusted_issuer: id, changes } });
    return toTrustedIssuerResource(row);
  });
}

/** Deletes a trusted issuer; while a client has an identity of it, a 409 naming the clients. */
export async function deleteTrustedIssuer(db: Db, id: string, actor: Actor): Promise<void> {
  await db.transaction(async (tx) => {
    const current = await lockTrustedIssuer(tx, id);
    if (current === undefined) throw new NotFoundError(`no trusted issuer with id "${id}"`);
    const users = await clientsTrusting(tx, id);
    if (users.length > 0) {
      throw new ConflictError(`trusted issuer "${id}" is still used by clients: ${users.join(', ')}`, { clients: users });
    }
    await deleteTrustedIssuerRow(tx, id);
    await recordChange(tx, { action: 'trusted_issuer.deleted', actor, details: { trusted_issuer: id, issuer: current.issuer } });
  });
}
