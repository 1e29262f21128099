import Type, { type Static } from 'typebox';
import { jwksSchema, jwksUriSchema } from './clients.js';
import { HTTPS_URL, nullable, stringEnum, TOKEN, trustedIssuerIdSchema } from './common.js';
import { FEDERATED_ALGORITHMS } from './enums.js';
import { MAX_TOKEN_AGE_BOUNDS } from './limits.js';

/**
 * A trusted issuer: a platform (a Kubernetes cluster, GitHub Actions, a SPIFFE trust
 * domain…) whose JWTs federated clients sign in with. The rules beyond the shapes (an https
 * issuer, jwks and jwks_uri not both, public keys only) are in federation/trusted-issuers.ts.
 */

const trustedIssuerFields = {
  issuer: Type.String({
    minLength: 9,
    maxLength: 500,
    pattern: HTTPS_URL,
    description: "The tokens' `iss`, exactly (an https URL).",
  }),
  // Where the issuer publishes its keys; null (with jwks null): read from
  // <issuer>/.well-known/openid-configuration.
  jwks_uri: nullable(jwksUriSchema),
  // The public keys themselves, for an issuer Portier cannot reach.
  jwks: nullable(jwksSchema),
  audience: nullable(
    Type.String({
      minLength: 1,
      maxLength: 500,
      pattern: TOKEN,
      description: "What the tokens' aud must contain; null: Portier's ISSUER.",
    }),
  ),
  max_token_age: Type.Integer({
    minimum: MAX_TOKEN_AGE_BOUNDS.min,
    maximum: MAX_TOKEN_AGE_BOUNDS.max,
    description: 'Seconds since its iat that a token is still accepted.',
  }),
  algorithms: Type.Array(stringEnum(FEDERATED_ALGORITHMS), { minItems: 1, maxItems: FEDERATED_ALGORITHMS.length, uniqueItems: true }),
  token_exchange: Type.Boolean({
    description: 'Its tokens may be the subject_token of a token exchange (RFC 8693) by clients granted to act for `issuer:<id>`.',
  }),
  jwt_bearer: Type.Boolean({
    description: 'Its tokens may be the assertion of the JWT bearer grant (RFC 7523 §2.1), for the client with a matching identity.',
  }),
};

export const createTrustedIssuerBody = Type.Object(
  {
    id: trustedIssuerIdSchema,
    issuer: trustedIssuerFields.issuer,
    jwks_uri: Type.Optional(trustedIssuerFields.jwks_uri),
    jwks: Type.Optional(trustedIssuerFields.jwks),
    audience: Type.Optional(trustedIssuerFields.audience),
    max_token_age: Type.Optional(trustedIssuerFields.max_token_age),
    algorithms: Type.Optional(trustedIssuerFields.algorithms),
    token_exchange: Type.Optional(trustedIssuerFields.token_exchange),
    jwt_bearer: Type.Optional(trustedIssuerFields.jwt_bearer),
  },
  { additionalProperties: false },
);
export type TrustedIssuerInput = Static<typeof createTrustedIssuerBody>;

/**
 * Any of the create body's fields, at least one. The id is accepted as any short string so
 * that the rule can answer "cannot be changed" by name rather than by its pattern. Of
 * jwks_uri and jwks, the one given replaces whichever of the two is stored; both null:
 * discovery.
 */
export const patchTrustedIssuerBody = Type.Partial(
  Type.Object({ ...createTrustedIssuerBody.properties, id: Type.String({ maxLength: 64 }) }),
  {
    additionalProperties: false,
    minProperties: 1,
  },
);
export type TrustedIssuerPatch = Static<typeof patchTrustedIssuerBody>;

export const trustedIssuerParams = Type.Object({ id: trustedIssuerIdSchema });

export const trustedIssuerResource = Type.Object(
  {
    id: Type.String(),
    issuer: Type.String(),
    jwks_uri: nullable(Type.String()),
    jwks: nullable(Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }, { additionalProperties: true })),
    audience: nullable(Type.String()),
    max_token_age: Type.Integer(),
    algorithms: Type.Array(stringEnum(FEDERATED_ALGORITHMS)),
    token_exchange: Type.Boolean(),
    jwt_bearer: Type.Boolean(),
    managed: Type.Boolean({
      description: 'Created by a configuration apply, which deletes it again once its document no longer lists it (prune).',
    }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type TrustedIssuerResource = Static<typeof trustedIssuerResource>;

export const trustedIssuerList = Type.Object({ items: Type.Array(trustedIssuerResource) });
