import type { Actor } from '../audit/events.js';
import { checkClientKeys, checkIpRanges, createClient } from '../clients/clients.js';
import { keyCredentialsByClient } from '../clients/key-credentials.js';
import { deleteClient, updateClient } from '../clients/lifecycle.js';
import { listAllClients } from '../clients/list.js';
import type { NewSecret } from '../clients/secrets.js';
import type { DbOrTx, Tx } from '../db/connect.js';
import {
  checkIssuerKeys,
  createTrustedIssuer,
  deleteTrustedIssuer,
  listTrustedIssuers,
  updateTrustedIssuer,
} from '../federation/trusted-issuers.js';
import type { FieldError } from '../lib/errors.js';
import { parseTimestamp } from '../lib/time.js';
import type { ClientPatch, ClientResource, CreateClientInput } from '../schemas/clients.js';
import type { CredentialEntry } from '../schemas/config.js';
import { CONFIG_ID_FIELDS, CONFIG_SECTIONS, type ConfigSection } from '../schemas/config.js';
import type { ConfigKind } from '../schemas/enums.js';
import type { ServiceInput, ServicePatch } from '../schemas/services.js';
import type { TrustedIssuerInput, TrustedIssuerPatch } from '../schemas/trusted-issuers.js';
import { createService, deleteService, listServices, updateService } from '../services/services.js';
import { applyKeyDetails, asCredentialsError, credentialEntries, readCredentials, withCredentialsAsJwks } from './credentials.js';

/**
 * The kinds of object a configuration document holds, in the order an apply creates and
 * updates them (a kind before the kinds that refer to it: services and trusted issuers
 * before the clients granted them or naming them in their identities); deletions go the
 * other way. Each kind says how to read the objects as document entries and which of the
 * domain's functions create, update and delete one: the same functions, with the same
 * rules and audit events, as the admin API and the CLI.
 *
 * An entry is the kind's create body (src/schemas/config.ts); what an apply writes is
 * that body (create) or the changed fields of it, which are a PATCH body (update).
 */

/** An entry or a patch of one; checked against the kind's entry schema before it gets here. */
export type Entry = Record<string, unknown>;

export interface ApplyContext {
  actor: Actor;
  now: number;
  /** Secrets made ahead for the clients this apply creates, by client_id (see prepareSecrets). */
  newSecrets: ReadonlyMap<string, NewSecret>;
  /** SECRET_PREFIX, for a secret made by a switch to client_secret. */
  secretPrefix: string | undefined;
  /** MAX_CREDENTIALS_PER_CLIENT and CREDENTIAL_MAX_LIFETIME_DAYS, as the API applies them. */
  maxCredentialsPerClient: number | undefined;
  maxLifetimeDays: number | undefined;
}

/** An object as it is now, in the form of an entry. */
export interface CurrentObject {
  id: string;
  entry: Entry;
  /** Created by an apply: prune may delete it. */
  managed: boolean;
  /** Portier's own (portier-admin): neither exported nor configurable. */
  builtIn: boolean;
}

export interface ConfigKindHandler {
  kind: ConfigKind;
  section: ConfigSection;
  /** Every object of the kind. */
  load(db: DbOrTx, now: number): Promise<CurrentObject[]>;
  /** The entry as an export shows it; undefined: as loaded. */
  exported?(entry: Entry): Entry;
  /** The entry in the form the database keeps it in, so that what is already so counts as no change. */
  normalize(entry: Entry): Promise<Entry>;
  /** Creates the object, marked managed; returns its new secret, if it has one. */
  create(tx: Tx, entry: Entry, context: ApplyContext): Promise<string | undefined>;
  /** Applies a patch; returns a new secret if the change made one. */
  update(tx: Tx, id: string, patch: Entry, context: ApplyContext): Promise<string | undefined>;
  remove(tx: Tx, id: string, context: ApplyContext): Promise<void>;
  /**
   * The part of an update that must wait until the later kinds have changed and the
   * pruned objects are gone (a service's scopes that clients stop using in the same
   * apply): `now` is done in order, `later` at the end. Undefined: all of it now.
   */
  split?(current: Entry, patch: Entry): { now: Entry; later: Entry } | undefined;
}

/** The fields of a kind's entry schema, in the schema's order. */
export function entryFields(section: ConfigSection): string[] {
  return Object.keys(CONFIG_SECTIONS[section].properties);
}

/** The fields of the entry schema that `resource` has: what an export shows of it. */
function toEntry(section: ConfigSection, resource: object): Entry {
  const values = resource as Entry;
  return Object.fromEntries(entryFields(section).flatMap((field) => (field in values ? [[field, values[field]]] : [])));
}

const services: ConfigKindHandler = {
  kind: 'service',
  section: 'services',
  async load(db) {
    return (await listServices(db)).map((service) => ({
      id: service.id,
      entry: toEntry('services', service),
      managed: service.managed,
      builtIn: service.built_in,
    }));
  },
  normalize: async (entry) => entry,
  async create(tx, entry, { actor }) {
    await createService(tx, entry as ServiceInput, actor, { managed: true });
    return undefined;
  },
  async update(tx, id, patch, { actor }) {
    await updateService(tx, id, patch as ServicePatch, actor);
    return undefined;
  },
  remove: (tx, id, { actor }) => deleteService(tx, id, actor),
  split(current, patch) {
    const scopes = patch.scopes as string[] | undefined;
    const before = current.scopes as string[];
    if (scopes === undefined || before.every((scope) => scopes.includes(scope))) return undefined;
    // Scopes a client may still hold go at the end, once the clients have changed.
    const kept = [...before, ...scopes.filter((scope) => !before.includes(scope))];
    const { scopes: _, ...rest } = patch;
    const now = kept.length === before.length ? rest : { ...rest, scopes: kept };
    return { now, later: { scopes } };
  },
};

const trustedIssuers: ConfigKindHandler = {
  kind: 'trusted_issuer',
  section: 'trusted_issuers',
  async load(db) {
    return (await listTrustedIssuers(db)).map((issuer) => ({
      id: issuer.id,
      entry: toEntry('trusted_issuers', issuer),
      managed: issuer.managed,
      builtIn: false,
    }));
  },
  async normalize(entry) {
    if (entry.jwks === undefined || entry.jwks === null) return entry;
    // Inline keys are kept as their public members (and kid, alg, use): compare in that form.
    // Keys that do not pass the rules are left as they are: the apply reports why.
    const ignored: FieldError[] = [];
    const keys = await checkIssuerKeys(entry.jwks as { keys: unknown[] }, entry.jwks_uri as string | null | undefined, ignored);
    return ignored.length === 0 ? { ...entry, jwks: keys.jwks } : entry;
  },
  async create(tx, entry, { actor }) {
    await createTrustedIssuer(tx, entry as TrustedIssuerInput, actor, { managed: true });
    return undefined;
  },
  async update(tx, id, patch, { actor }) {
    await updateTrustedIssuer(tx, id, patch as TrustedIssuerPatch, actor);
    return undefined;
  },
  remove: (tx, id, { actor }) => deleteTrustedIssuer(tx, id, actor),
};

/**
 * A client as a document entry. Only a federated client has identities (1 to 10): the
 * resource's empty list of the others would be refused by the entry schema. A client that
 * registers its keys has them as `credentials` (each with its description and expiry) and
 * as `jwks`, so that a document giving either form compares as what it is; an export shows
 * the credentials.
 */
function clientEntry(client: ClientResource, keys: Parameters<typeof credentialEntries>[0] | undefined): Entry {
  const entry = toEntry('clients', client);
  if (client.auth_method !== 'federated') delete entry.federated_identities;
  if (keys !== undefined && keys.length > 0 && (client.jwks_uri ?? null) === null) entry.credentials = credentialEntries(keys);
  return entry;
}

/** Credentials in the form the database keeps them: keys as stored, the description the API gives by default. */
async function normalizeCredentials(credentials: CredentialEntry[]): Promise<Entry[] | undefined> {
  try {
    const { keys, details } = await readCredentials(credentials);
    return details.map((key, index) => ({
      kind: 'public_key',
      description: key.description,
      ...(key.expiresAt !== undefined && { expires_at: key.expiresAt?.toISOString() ?? null }),
      jwk: keys[index],
    }));
  } catch {
    return undefined;
  }
}

const clients: ConfigKindHandler = {
  kind: 'client',
  section: 'clients',
  async load(db, now) {
    const keys = await keyCredentialsByClient(db);
    return (await listAllClients(db, now)).map((client) => ({
      id: client.client_id,
      entry: clientEntry(client, keys.get(client.client_id)),
      managed: client.managed,
      builtIn: false,
    }));
  },
  exported(entry) {
    if (entry.credentials === undefined) return entry;
    const { jwks: _, ...rest } = entry;
    return rest;
  },
  async normalize(entry) {
    const normalized = { ...entry };
    const ignored: FieldError[] = [];
    if (Array.isArray(entry.ip_ranges)) normalized.ip_ranges = checkIpRanges(entry.ip_ranges as string[], ignored);
    if (Array.isArray(entry.federated_identities)) {
      // Stored identities always have claims, {} when none are pinned.
      normalized.federated_identities = (entry.federated_identities as Entry[]).map((identity) => ({ claims: {}, ...identity }));
    }
    if (typeof entry.expires_at === 'string') normalized.expires_at = parseTimestamp(entry.expires_at)?.toISOString() ?? entry.expires_at;
    if (entry.jwks !== undefined && entry.jwks !== null) {
      // Keys are kept as their public members (and kid, alg, use): compare in that form.
      const keys = await checkClientKeys('private_key_jwt', entry.jwks as { keys: unknown[] }, null, ignored);
      if (keys.jwks !== null) normalized.jwks = keys.jwks;
    }
    if (Array.isArray(entry.credentials)) {
      const credentials = await normalizeCredentials(entry.credentials as CredentialEntry[]);
      if (credentials === undefined) ignored.push({ path: '/credentials', message: 'not valid' });
      else normalized.credentials = credentials;
    }
    // An entry that does not pass the rules is left as it is: the apply reports why.
    return ignored.length === 0 ? normalized : entry;
  },
  async create(tx, entry, context) {
    const { actor, now, newSecrets, maxCredentialsPerClient, maxLifetimeDays } = context;
    const { entry: input, details } = await withCredentialsAsJwks(entry);
    const prepared = newSecrets.get(entryId('clients', entry));
    const options = { managed: true, now, prepared, maxCredentialsPerClient, maxLifetimeDays };
    const created = await createClient(tx, input as CreateClientInput, actor, options).catch((error: unknown) => {
      throw details === undefined ? error : asCredentialsError(error);
    });
    if (details !== undefined) await applyKeyDetails(tx, created.client.client_id, details, context);
    return created.clientSecret;
  },
  async update(tx, id, patch, context) {
    const { actor, now, secretPrefix, maxCredentialsPerClient, maxLifetimeDays } = context;
    const settings = { secretPrefix, maxPerClient: maxCredentialsPerClient, maxLifetimeDays };
    const { entry: changes, details } = await withCredentialsAsJwks(patch);
    const before = new Set((await keyCredentialsByClient(tx, id)).get(id)?.map((key) => key.thumbprint ?? '') ?? []);
    // The same keys, only their descriptions or expiries changed: the client itself is not.
    const sameKeys = details !== undefined && details.length === before.size && details.every((key) => before.has(key.thumbprint));
    if (sameKeys) delete changes.jwks;
    let secret: string | undefined;
    if (Object.keys(changes).length > 0) {
      const updated = await updateClient(tx, id, changes as ClientPatch, actor, now, undefined, settings).catch((error: unknown) => {
        throw details === undefined ? error : asCredentialsError(error);
      });
      secret = updated.clientSecret;
    }
    if (details !== undefined) await applyKeyDetails(tx, id, details, context);
    return secret;
  },
  remove: (tx, id, { actor }) => deleteClient(tx, id, actor),
};

/** Every kind, in the order an apply creates and updates them. */
export const CONFIG_KIND_HANDLERS: readonly ConfigKindHandler[] = [services, trustedIssuers, clients];

/** The id of an entry of `section`. */
export function entryId(section: ConfigSection, entry: Entry): string {
  return entry[CONFIG_ID_FIELDS[section]] as string;
}
