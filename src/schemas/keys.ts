import Type, { type Static } from 'typebox';
import { nullable, stringEnum } from './common.js';

/** A signing key as the admin API lists it: public parts only. */
export const signingKeyInfo = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  status: stringEnum(['next', 'active', 'retired']),
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
