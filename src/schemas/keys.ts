import Type, { type Static } from 'typebox';
import { nullable, stringEnum } from './common.js';
import { KEY_STATUSES, ROTATED_KEY_STATUSES } from './enums.js';

/** A signing key as the admin API lists it: public parts only. */
export const signingKeyInfo = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  status: stringEnum(KEY_STATUSES),
  created_at: Type.String({ format: 'date-time' }),
  activates_at: nullable(Type.String({ format: 'date-time' })),
  retired_at: nullable(Type.String({ format: 'date-time' })),
  publish_until: nullable(Type.String({ format: 'date-time' })),
  // Public members only; this schema is what keeps private ones out of the response.
  public_jwk: Type.Object({
    kty: Type.String(),
    kid: Type.Optional(Type.String()),
    alg: Type.Optional(Type.String()),
    use: Type.Optional(Type.String()),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    n: Type.Optional(Type.String()),
    e: Type.Optional(Type.String()),
  }),
});
export type SigningKeyInfo = Static<typeof signingKeyInfo>;

export const keysResponse = Type.Object({ items: Type.Array(signingKeyInfo) });

const rotateFields = Type.Object(
  {
    emergency: Type.Optional(
      Type.Boolean({
        description:
          'For a compromised key: a new key signs at once, and the active (and any next) key leaves the JWKS at once. Verifiers meet an unknown kid until they refetch.',
      }),
    ),
  },
  { additionalProperties: false },
);
/**
 * The body of POST /keys/rotate: optional (null or none at all). One schema with
 * `type: [object, null]` rather than anyOf, so that a bad field is reported as that field.
 */
export const rotateBody = Type.Unsafe<Static<typeof rotateFields> | null>({ ...rotateFields, type: ['object', 'null'] });

/** 200: `kid` signs from now on. 202: `kid` is published and starts signing at `activates_at`, on its own. */
export const rotationResponse = Type.Object({
  kid: Type.String(),
  status: stringEnum(ROTATED_KEY_STATUSES),
  activates_at: Type.String({ format: 'date-time' }),
  withdrawn: Type.Array(Type.String(), { description: 'Keys an emergency rotation took out of the JWKS.' }),
  items: Type.Array(signingKeyInfo),
});
export type RotationResponse = Static<typeof rotationResponse>;
