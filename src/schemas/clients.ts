import Type, { type Static } from 'typebox';
import {
  CLIENT_ID_PATTERN,
  clientIdSchema,
  dateTime,
  filterText,
  HTTPS_URL,
  limitSchema,
  MAX_PAGE_SIZE,
  MAX_PREVIOUS_SECRET_VALIDITY,
  multilineText,
  nullable,
  roleList,
  scopeList,
  serviceIdSchema,
  stringEnum,
  TOKEN,
  text,
  trustedIssuerIdSchema,
} from './common.js';
import { AUTH_METHODS, CLIENT_SORTS, CLIENT_STATUSES } from './enums.js';
import { accessTokenTtlSchema, claimsSchema, tokenQuotaResource, tokenQuotaSchema } from './policy.js';

/**
 * Whom a client may act for in a token exchange (RFC 8693) when it gets tokens for the
 * grant's service: a client_id (that client's tokens), `issuer:<trusted issuer id>` (tokens
 * of that issuer, which must have `token_exchange`), or `*` (any subject). `actors`: the
 * other clients whose tokens this client may present as the `actor_token`, so that the new
 * token's `act` names that client (none: only its own).
 */
export const EXCHANGE_SUBJECT_PATTERN = `^(\\*|issuer:[a-z0-9._-]{3,64}|${CLIENT_ID_PATTERN.source.slice(1, -1)})$`;
export const exchangeSchema = Type.Object(
  {
    subjects: Type.Array(Type.String({ minLength: 1, maxLength: 71, pattern: EXCHANGE_SUBJECT_PATTERN }), {
      minItems: 1,
      maxItems: 50,
      uniqueItems: true,
    }),
    actors: Type.Optional(Type.Array(clientIdSchema, { maxItems: 20, uniqueItems: true })),
  },
  { additionalProperties: false },
);
export type ExchangeInput = Static<typeof exchangeSchema>;

/**
 * A client's grant: a service, the scopes of it the client may ask for, and whom it may act
 * for when it exchanges a token for that service (none: no exchange).
 */
export const grantSchema = Type.Object(
  { service: serviceIdSchema, scopes: scopeList, exchange: Type.Optional(exchangeSchema) },
  { additionalProperties: false },
);

/** RFC 8693 §4.4: the client_ids that may act for the client; its tokens carry them as `may_act`. */
export const mayActSchema = Type.Array(clientIdSchema, {
  minItems: 1,
  maxItems: 20,
  uniqueItems: true,
  description: 'The client_ids that may act for this client in a token exchange (RFC 8693 may_act); null: any the grants allow.',
});

export const authMethodSchema = stringEnum(AUTH_METHODS);
export const clientStatusSchema = stringEnum(CLIENT_STATUSES);

/** Members of a JWK that only a private (or symmetric) key has: never stored, never trusted. */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/**
 * A client's public key. Other members (x5c, key_ops, …) are accepted but not stored: the
 * key is kept as jose re-exports it, with these three (see checkClientJwks).
 */
export const jwkSchema = Type.Object(
  {
    kty: text(10, TOKEN),
    kid: Type.Optional(text(200)),
    alg: Type.Optional(text(20, TOKEN)),
    // Keys verify the client's signed assertions (RFC 7523): a key for encryption cannot.
    use: Type.Optional(stringEnum(['sig'])),
  },
  { additionalProperties: true, maxProperties: 30 },
);
/**
 * A key set given whole. At most 100 keys here, the largest MAX_CREDENTIALS_PER_CLIENT may be;
 * the limit in force (each key is a credential) is checked by checkClientKeys.
 */
export const jwksSchema = Type.Object({ keys: Type.Array(jwkSchema, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false });
/**
 * Where a private_key_jwt client publishes its public keys: an https URL (the rules beyond
 * the syntax, and the guard on where Portier may connect, are in checkClientKeys and
 * oauth/client-auth/remote-jwks.ts).
 */
export const jwksUriSchema = Type.String({ minLength: 9, maxLength: 2000, pattern: HTTPS_URL });

/**
 * A platform identity a federated client signs in as: the trusted issuer (its id), the
 * exact `sub` of the platform's tokens, and claims the token must carry as well. A claim's
 * name is a top-level claim (`repository_owner`), or a JSON Pointer (RFC 6901) into the
 * token's claims when it starts with `/` (`/kubernetes.io/serviceaccount/uid`); its value
 * must equal the token's claim, or be one of its items when that is an array.
 */
export const federatedIdentitySchema = Type.Object(
  {
    issuer: trustedIssuerIdSchema,
    subject: text(512),
    claims: Type.Optional(
      Type.Record(Type.String(), Type.Union([filterText(500), Type.Number(), Type.Boolean()]), {
        maxProperties: 20,
        propertyNames: { minLength: 1, maxLength: 200, pattern: TOKEN },
      }),
    ),
  },
  { additionalProperties: false },
);
export type FederatedIdentityInput = Static<typeof federatedIdentitySchema>;
/** A federated client's identities: 1 to 10 (the rules beyond the shape are in federation/identities.ts). */
export const federatedIdentitiesSchema = Type.Array(federatedIdentitySchema, { minItems: 1, maxItems: 10 });

/**
 * What a tls_client_auth client's certificate must show (RFC 8705 §2.1.2): exactly one of the
 * subject DN (an RFC 4514 string) or a subject alternative name. The rules beyond the shape
 * are in clients/certificates.ts.
 */
const tlsClientAuthFields = {
  tls_client_auth_subject_dn: Type.Optional(nullable(text(1000))),
  tls_client_auth_san_dns: Type.Optional(nullable(text(253))),
  tls_client_auth_san_uri: Type.Optional(nullable(text(2000))),
  tls_client_auth_san_ip: Type.Optional(nullable(text(45))),
  tls_client_auth_san_email: Type.Optional(nullable(text(320))),
};

/** The fields a client has that an admin can set (create and patch share them). */
const editableClientFields = {
  name: text(200),
  description: multilineText(2000),
  first_name: nullable(text(100)),
  last_name: nullable(text(100)),
  roles: roleList(),
  grants: Type.Array(grantSchema, { maxItems: 50 }),
  ip_ranges: Type.Array(Type.String({ minLength: 2, maxLength: 64, pattern: '^[0-9a-fA-F.:/]+$' }), { maxItems: 100 }),
  expires_at: nullable(dateTime),
  dpop_bound: Type.Boolean({ description: 'Every token request must carry a DPoP proof (RFC 9449); tokens are then DPoP-bound.' }),
  access_token_ttl: accessTokenTtlSchema,
  claims: claimsSchema,
  token_quota: nullable(tokenQuotaSchema),
  may_act: nullable(mayActSchema),
};

/**
 * The fields a create and a PATCH share, each optional. auth_method: to private_key_jwt a
 * switch removes the secrets (give jwks or jwks_uri), to federated too (give
 * federated_identities); to client_secret it drops the keys and identities and issues a new
 * secret, shown in the response once. For a private_key_jwt client, jwks or jwks_uri given
 * replaces whichever of the two is stored; federated_identities, the whole list.
 */
const optionalClientFields = {
  description: Type.Optional(editableClientFields.description),
  first_name: Type.Optional(editableClientFields.first_name),
  last_name: Type.Optional(editableClientFields.last_name),
  roles: Type.Optional(editableClientFields.roles),
  grants: Type.Optional(editableClientFields.grants),
  ip_ranges: Type.Optional(editableClientFields.ip_ranges),
  expires_at: Type.Optional(editableClientFields.expires_at),
  auth_method: Type.Optional(authMethodSchema),
  jwks: Type.Optional(nullable(jwksSchema)),
  jwks_uri: Type.Optional(nullable(jwksUriSchema)),
  federated_identities: Type.Optional(federatedIdentitiesSchema),
  ...tlsClientAuthFields,
  tls_client_certificate_bound_access_tokens: Type.Optional(
    Type.Boolean({
      description:
        "Tokens are bound to the request's TLS client certificate (RFC 8705 §3); a request without one is refused. Defaults to true for tls_client_auth and self_signed_tls_client_auth clients.",
    }),
  ),
  dpop_bound: Type.Optional(editableClientFields.dpop_bound),
  access_token_ttl: Type.Optional(editableClientFields.access_token_ttl),
  claims: Type.Optional(editableClientFields.claims),
  token_quota: Type.Optional(editableClientFields.token_quota),
  may_act: Type.Optional(editableClientFields.may_act),
};

export const createClientBody = Type.Object(
  {
    client_id: Type.Optional(clientIdSchema),
    // Required of admins; an operator's clients are theirs, so they may leave it out (see createClient).
    owner: Type.Optional(text(200, TOKEN)),
    name: editableClientFields.name,
    ...optionalClientFields,
  },
  { additionalProperties: false },
);
export type CreateClientInput = Static<typeof createClientBody>;

export const patchClientBody = Type.Object(
  {
    // Accepted by the schema so that the rule can answer "cannot be changed" by name.
    client_id: Type.Optional(Type.String({ maxLength: 64 })),
    // Admins only: how a client passes to someone else (audited).
    owner: Type.Optional(text(200, TOKEN)),
    name: Type.Optional(editableClientFields.name),
    ...optionalClientFields,
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ClientPatch = Static<typeof patchClientBody>;
export type GrantInput = Static<typeof grantSchema>;

/** The client resource. Never contains a secret or a hash: the serialiser drops anything not listed here. */
export const clientResource = Type.Object(
  {
    client_id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    owner: Type.String(),
    created_by: Type.String(),
    created_by_name: nullable(
      Type.String({ description: "How to show who created it: a person's name or email, an admin client's client_id." }),
    ),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    first_name: nullable(Type.String()),
    last_name: nullable(Type.String()),
    roles: Type.Array(Type.String()),
    grants: Type.Array(
      Type.Object({
        service: Type.String(),
        scopes: Type.Array(Type.String()),
        exchange: Type.Optional(Type.Object({ subjects: Type.Array(Type.String()), actors: Type.Optional(Type.Array(Type.String())) })),
      }),
    ),
    ip_ranges: Type.Array(Type.String()),
    auth_method: authMethodSchema,
    jwks: nullable(Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }, { additionalProperties: true })),
    jwks_uri: nullable(Type.String()),
    federated_identities: Type.Array(
      Type.Object({
        issuer: Type.String(),
        subject: Type.String(),
        claims: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
      }),
    ),
    tls_client_auth_subject_dn: nullable(Type.String()),
    tls_client_auth_san_dns: nullable(Type.String()),
    tls_client_auth_san_uri: nullable(Type.String()),
    tls_client_auth_san_ip: nullable(Type.String()),
    tls_client_auth_san_email: nullable(Type.String()),
    tls_client_certificate_bound_access_tokens: Type.Boolean(),
    expires_at: nullable(Type.String({ format: 'date-time' })),
    enabled: Type.Boolean(),
    dpop_bound: Type.Boolean(),
    managed: Type.Boolean({
      description: 'Created by a configuration apply, which deletes it again once its document no longer lists it (prune).',
    }),
    access_token_ttl: nullable(Type.Integer()),
    claims: Type.Record(Type.String(), Type.Unknown()),
    token_quota: nullable(tokenQuotaResource),
    may_act: nullable(Type.Array(Type.String())),
    status: clientStatusSchema,
    last_used_at: nullable(Type.String({ format: 'date-time' })),
    /** Which platform identity got the last token (federated clients), else null. */
    last_used_identity: nullable(Type.Object({ issuer: Type.String(), subject: Type.String() })),
    service_account: Type.Object({ id: Type.String({ format: 'uuid' }), username: Type.String() }),
  },
  { additionalProperties: false },
);
export type ClientResource = Static<typeof clientResource>;

export const createdClientResource = Type.Object(
  {
    ...clientResource.properties,
    client_secret: Type.Optional(Type.String({ description: 'Shown this once; only a hash is stored.' })),
  },
  { additionalProperties: false },
);
/** PATCH's answer: the client, and a new secret when the change switched it to client_secret. */
export const updatedClientResource = createdClientResource;

export const listClientsQuery = Type.Object(
  {
    name: Type.Optional(filterText(200)),
    owner: Type.Optional(filterText(200)),
    created_by: Type.Optional(filterText(200)),
    status: Type.Optional(clientStatusSchema),
    service: Type.Optional(serviceIdSchema),
    expires_before: Type.Optional(dateTime),
    expires_after: Type.Optional(dateTime),
    expiring_before: Type.Optional(
      Type.String({
        format: 'date-time',
        maxLength: 64,
        description: 'The client or one of its live credentials expires between now and then (what a reminder is about).',
      }),
    ),
    unused_since: Type.Optional(
      Type.String({
        format: 'date-time',
        maxLength: 64,
        description: 'Not used since then: last used before it, or never used and created before it (as dormancy counts).',
      }),
    ),
    sort: Type.Optional(
      Type.Unsafe<(typeof CLIENT_SORTS)[number]>({
        type: 'string',
        enum: [...CLIENT_SORTS],
        description: 'The order: a column, with - in front for descending (default client_id). next_cursor keeps it.',
      }),
    ),
    limit: Type.Optional(limitSchema),
    cursor: Type.Optional(Type.String({ maxLength: 1200 })),
  },
  { additionalProperties: false },
);
export type ListClientsQuery = Static<typeof listClientsQuery>;
/** The filters of a client list (the query without its paging). */
export type ClientFilters = Omit<ListClientsQuery, 'limit' | 'cursor' | 'sort'>;

export const clientPage = Type.Object({ items: Type.Array(clientResource), next_cursor: nullable(Type.String()) });
export type ClientPage = Static<typeof clientPage>;

export const clientParams = Type.Object({ client_id: clientIdSchema });

export const bulkBody = Type.Object(
  {
    action: stringEnum(['enable', 'disable']),
    client_ids: Type.Array(clientIdSchema, { minItems: 1, maxItems: MAX_PAGE_SIZE, uniqueItems: true }),
  },
  { additionalProperties: false },
);

export const bulkResult = Type.Object({
  client_id: Type.String(),
  ok: Type.Boolean(),
  status: Type.Optional(clientStatusSchema),
  error: Type.Optional(Type.String()),
});
export type BulkResult = Static<typeof bulkResult>;
export const bulkResponse = Type.Object({ results: Type.Array(bulkResult) });

const regenerateSecretFields = Type.Object(
  { previous_secret_valid_for: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_PREVIOUS_SECRET_VALIDITY })) },
  { additionalProperties: false },
);
/**
 * The body of POST /clients/{client_id}/secret: optional (null or none at all). One schema
 * with `type: [object, null]` rather than anyOf, so that a bad field is reported as that
 * field alone.
 */
export const regenerateSecretBody = Type.Unsafe<Static<typeof regenerateSecretFields> | null>({
  ...regenerateSecretFields,
  type: ['object', 'null'],
});

export const regeneratedSecret = Type.Object({
  client_id: Type.String(),
  client_secret: Type.String({ description: 'Shown this once; only a hash is stored.' }),
  previous_secret_expires_at: nullable(Type.String({ format: 'date-time' })),
});
