import Type, { type Static } from 'typebox';
import { limitSchema, nullable, stringEnum } from './common.js';
import { PERSON_ROLES } from './enums.js';

/** A person's console session, as an admin sees it: never its cookie, never a token. */
export const sessionResource = Type.Object({
  id: Type.String({ format: 'uuid' }),
  subject: Type.String({ description: "The person: the identity provider's issuer and their `sub` there, as `<issuer>#<sub>`." }),
  name: Type.String(),
  owner: Type.String({ description: 'The value of OIDC_OWNER_CLAIM: the owner of their clients.' }),
  role: stringEnum(PERSON_ROLES),
  ip: nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  last_seen_at: Type.String({ format: 'date-time', description: 'Kept to within a minute.' }),
  expires_at: Type.String({
    format: 'date-time',
    description: 'When it ends unless used again: the sooner of the idle and the absolute limit.',
  }),
});

export const sessionPage = Type.Object({ items: Type.Array(sessionResource), next_cursor: nullable(Type.String()) });
export type SessionPage = Static<typeof sessionPage>;

export const sessionsQuery = Type.Object(
  { limit: Type.Optional(limitSchema), cursor: Type.Optional(Type.String({ maxLength: 36 })) },
  { additionalProperties: false },
);

export const sessionParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
