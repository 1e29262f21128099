import Type, { type Static } from 'typebox';
import { nullable, stringEnum } from './common.js';
import { KEY_STATUSES, ROTATED_KEY_STATUSES } from './enums.js';
import { JWKS_MAX_AGE_SECONDS, MAX_KEY_PUBLICATION_LEAD } from './limits.js';

/** A signing key as the admin API lists it: public parts only. */
export const signingKeyInfo = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  status: stringEnum(KEY_STATUSES),
  created_at: Type.String({ format: 'date-time' }),
  activates_at: nullable(Type.String({ format: 'date-time' })),
  earliest_activation: nullable(
    Type.String({
      format: 'date-time',
      description:
        'For a next key: the earliest time it may be brought forward to (POST /admin/keys/{kid}/activate), the JWKS max-age after it was published. Null for other keys.',
    }),
  ),
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

export const rotateFields = Type.Object(
  {
    emergency: Type.Optional(
      Type.Boolean({
        description:
          'For a compromised key: a new key signs at once, and the active (and any next) key leaves the JWKS at once. Verifiers meet an unknown kid until they refetch.',
      }),
    ),
    activate_after: Type.Optional(
      Type.Integer({
        minimum: JWKS_MAX_AGE_SECONDS,
        maximum: MAX_KEY_PUBLICATION_LEAD,
        description: `For this rotation only: seconds the new key is published before it signs, instead of KEY_PUBLICATION_LEAD (at least the JWKS max-age, ${JWKS_MAX_AGE_SECONDS}; at most 30 days). Not with emergency, nor while a next key is pending.`,
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

export const activateFields = Type.Object(
  {
    at: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          'When the next key starts signing: at the earliest its earliest_activation, at the latest its current activates_at; a time already past means now. Omitted: as soon as allowed.',
      }),
    ),
  },
  { additionalProperties: false },
);
/** The body of POST /keys/{kid}/activate: optional, like rotate's. */
export const activateBody = Type.Unsafe<Static<typeof activateFields> | null>({ ...activateFields, type: ['object', 'null'] });

export const kidParams = Type.Object({ kid: Type.String({ minLength: 1, maxLength: 200 }) });
