import Type, { type Static } from 'typebox';
import { jwkSchema } from './clients.js';
import { clientIdSchema, dateTime, multilineText, nullable, stringEnum } from './common.js';
import { CREDENTIAL_KINDS, CREDENTIAL_REVOCATION_REASONS } from './enums.js';

/** A credential's id: `cred_` and 16 letters or digits. */
export const credentialIdSchema = Type.String({ pattern: '^cred_[0-9A-Za-z]{16}$', maxLength: 21 });

export const credentialParams = Type.Object({ client_id: clientIdSchema, credential_id: credentialIdSchema });

export const CREDENTIAL_STATUSES = ['active', 'expired', 'revoked'] as const;

/** One credential of a client as the admin API shows it: never a hash or a secret. */
export const credentialResource = Type.Object({
  id: Type.String({ description: 'Stable, public: `cred_` and 16 letters or digits. A self-identifying secret contains it.' }),
  kind: stringEnum(CREDENTIAL_KINDS),
  description: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  created_by: Type.String({
    description: 'Who added it, as `created_by` of a client; `migration` for credentials made from earlier secrets and keys.',
  }),
  created_by_name: nullable(Type.String()),
  expires_at: nullable(Type.String({ format: 'date-time', description: 'null: never.' })),
  last_used_at: nullable(Type.String({ format: 'date-time', description: 'Within 60 s of use.' })),
  status: stringEnum(CREDENTIAL_STATUSES),
  revoked_at: nullable(Type.String({ format: 'date-time' })),
  revoked_reason: nullable(stringEnum(CREDENTIAL_REVOCATION_REASONS)),
  over_policy: Type.Boolean({
    description:
      'It lives longer than the maximum lifetime now set for the client (CREDENTIAL_MAX_LIFETIME_DAYS, its services): made before the limit, it keeps working.',
  }),
  kid: Type.Optional(nullable(Type.String({ description: 'public_key: the key id, if the key has one.' }))),
  alg: Type.Optional(nullable(Type.String({ description: 'public_key: the algorithm, if the key names one.' }))),
  thumbprint: Type.Optional(Type.String({ description: 'public_key: its JWK thumbprint (RFC 7638, SHA-256).' })),
  jwk: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'public_key: the public JWK as stored.' })),
});
export type CredentialResource = Static<typeof credentialResource>;

export const credentialList = Type.Object({ credentials: Type.Array(credentialResource) });

/** POST /admin/clients/{id}/credentials. */
export const newCredentialBody = Type.Object(
  {
    kind: stringEnum(CREDENTIAL_KINDS),
    description: Type.Optional(multilineText(500)),
    expires_at: Type.Optional(nullable(dateTime)),
    jwk: Type.Optional(jwkSchema),
    pem: Type.Optional(Type.String({ minLength: 1, maxLength: 20_000, description: 'A PEM public key (SPKI) or X.509 certificate.' })),
  },
  { additionalProperties: false },
);
export type NewCredentialInput = Static<typeof newCredentialBody>;

export const addedCredential = Type.Object({
  ...credentialResource.properties,
  secret: Type.Optional(Type.String({ description: 'kind secret: shown this once; only a hash is stored.' })),
});

/**
 * POST /admin/credentials/revoke-leaked: what GitHub's secret scanning partner program
 * sends, a list of tokens found in public, each with where it was found.
 */
export const leakedTokensBody = Type.Array(
  Type.Object(
    {
      token: Type.String({ maxLength: 1024 }),
      type: Type.Optional(Type.String({ maxLength: 200 })),
      url: Type.Optional(Type.String({ maxLength: 2000 })),
      source: Type.Optional(Type.String({ maxLength: 200 })),
    },
    { additionalProperties: true },
  ),
  { maxItems: 100 },
);
export type LeakedToken = Static<typeof leakedTokensBody>[number];

export const LEAKED_TOKEN_OUTCOMES = ['revoked', 'already_revoked', 'unknown', 'ill_formed'] as const;

export const leakedTokensResponse = Type.Object({
  results: Type.Array(
    Type.Object({
      credential_id: nullable(Type.String({ description: 'The credential the token is a secret of; never the token.' })),
      client_id: nullable(Type.String()),
      outcome: stringEnum(LEAKED_TOKEN_OUTCOMES),
    }),
    { description: 'One per token, in the order sent.' },
  ),
});
export type LeakedTokenResult = Static<typeof leakedTokensResponse>['results'][number];
