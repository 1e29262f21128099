/**
 * The closed sets of values Portier stores and shows, each defined once. The database
 * schema (src/db/schema.ts), the TypeBox schemas of the API, the code's types and, through
 * the OpenAPI document, the console's generated types all derive from these.
 */

/**
 * How a client proves who it is at the token endpoint: a secret (HTTP Basic or the body), an
 * assertion signed with its own key (RFC 7523), the JWT its platform gave it, checked
 * against a trusted issuer's keys (federated), or a TLS client certificate (RFC 8705): one
 * of a CA, with the registered subject or SAN (tls_client_auth), or any with one of the
 * registered public keys (self_signed_tls_client_auth).
 */
export const AUTH_METHODS = ['client_secret', 'private_key_jwt', 'federated', 'tls_client_auth', 'self_signed_tls_client_auth'] as const;

/** The auth methods that present a TLS client certificate. */
export const CERTIFICATE_AUTH_METHODS = ['tls_client_auth', 'self_signed_tls_client_auth'] as const satisfies readonly AuthMethod[];

/**
 * What a client's TLS identity names (RFC 8705 §2.1.2): the certificate's subject DN, or one
 * of its subject alternative names (tls_client_auth); or one of the public keys of a
 * self_signed_tls_client_auth client (its RFC 7638 thumbprint).
 */
export const TLS_IDENTITY_KINDS = ['subject_dn', 'san_dns', 'san_uri', 'san_ip', 'san_email', 'public_key'] as const;
export type TlsIdentityKind = (typeof TLS_IDENTITY_KINDS)[number];
export type AuthMethod = (typeof AUTH_METHODS)[number];

/**
 * What a client credential is: a secret (kept as an argon2id hash) or a public key (for
 * private_key_jwt). See client_credentials in db/schema.ts.
 */
export const CREDENTIAL_KINDS = ['secret', 'public_key'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/** Why a credential was revoked: it was removed (DELETE), or reported leaked (revoke-leaked). */
export const CREDENTIAL_REVOCATION_REASONS = ['removed', 'leaked'] as const;
export type CredentialRevocationReason = (typeof CREDENTIAL_REVOCATION_REASONS)[number];

/** A client's status, derived from `enabled` and `expires_at` (see clients/rules.ts). */
export const CLIENT_STATUSES = ['active', 'disabled', 'expired'] as const;
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

/** The columns a client list can be sorted by (`sort=`; a `-` in front sorts descending). */
export const CLIENT_SORT_FIELDS = ['client_id', 'name', 'owner', 'created_at', 'last_used_at', 'expires_at'] as const;
export type ClientSortField = (typeof CLIENT_SORT_FIELDS)[number];
export const CLIENT_SORTS = [...CLIENT_SORT_FIELDS, ...CLIENT_SORT_FIELDS.map((field) => `-${field}` as const)] as const;

/**
 * A signing key's place in its life: `next` (published, not yet signing), `active` (the
 * one that signs), `retired` (published until its last token expires).
 */
export const KEY_STATUSES = ['next', 'active', 'retired'] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];

/** What a rotation leaves the key it made: signing now, or next. */
export type RotatedKeyStatus = Exclude<KeyStatus, 'retired'>;
export const ROTATED_KEY_STATUSES = ['active', 'next'] as const satisfies readonly RotatedKeyStatus[];

/**
 * The signature algorithms a client assertion may use, a private_key_jwt client's own or a
 * platform's JWT checked against a trusted issuer's keys, and so what discovery lists as
 * token_endpoint_auth_signing_alg_values_supported. Asymmetric only: `none` proves nothing,
 * and an HMAC "signed" with a public key proves nothing either (anyone has it), nor would a
 * platform share its HMAC key with us. What the platforms use: Kubernetes RS256, GitHub
 * Actions RS256, SPIRE ES256, ES384, RS256 or PS256. `Ed25519` is RFC 9864's fully-specified
 * name for `EdDSA` with an Ed25519 key, which oauth4webapi signs with by default. Whether a
 * token's algorithm fits the key it names is checked when it is verified (jose).
 */
export const ASSERTION_ALGORITHMS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519'] as const;
/** What a trusted issuer may allow: every assertion algorithm (a new issuer allows them all). */
export const FEDERATED_ALGORITHMS = ASSERTION_ALGORITHMS;
export type FederatedAlgorithm = (typeof FEDERATED_ALGORITHMS)[number];
/** What a configuration document configures, one kind per list in it (see config-as-code/). */
export const CONFIG_KINDS = ['service', 'client', 'trusted_issuer'] as const;
export type ConfigKind = (typeof CONFIG_KINDS)[number];

/** What a configuration apply does to one object. */
export const CONFIG_OPS = ['create', 'update', 'delete'] as const;
export type ConfigOp = (typeof CONFIG_OPS)[number];

/**
 * What a person signed in to the console may do, from their groups at the identity
 * provider (see people/roles.ts): `admin` everything, `auditor` read everything, `operator`
 * self-service on the clients they own.
 */
export const PERSON_ROLES = ['admin', 'auditor', 'operator'] as const;
export type PersonRole = (typeof PERSON_ROLES)[number];

/** What a client over its token quota gets: refused (429), or the token and an audit event. */
export const QUOTA_MODES = ['enforce', 'log'] as const;
export type QuotaMode = (typeof QUOTA_MODES)[number];

/** What a failed call to the issuance hook means for the token: 503, or the token without the hook's claims. */
export const HOOK_FAILURE_MODES = ['deny', 'allow'] as const;
export type HookFailureMode = (typeof HOOK_FAILURE_MODES)[number];

/** How usage is summed up: per UTC hour (the last 48) or per UTC day (the last 90). */
export const USAGE_GRANULARITIES = ['hour', 'day'] as const;
export type UsageGranularity = (typeof USAGE_GRANULARITIES)[number];
