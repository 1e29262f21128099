import Type, { type Static } from 'typebox';
import { multilineText, nullable, roleList, scopeList, serviceIdSchema, TOKEN, text } from './common.js';
import { MAX_TOKEN_TTL, MIN_TOKEN_TTL } from './limits.js';
import { accessTokenTtlSchema, claimsSchema } from './policy.js';

const serviceFields = {
  name: text(200),
  description: multilineText(2000),
  audience: Type.String({ minLength: 1, maxLength: 500, pattern: TOKEN }),
  scopes: scopeList,
  self_service: Type.Boolean({
    description: 'Operators (people with the operator role) may grant it to their own clients. Never for portier-admin.',
  }),
  access_token_ttl: accessTokenTtlSchema,
  claims: claimsSchema,
  self_service_roles: roleList(
    'The roles operators may give their own clients granted this service (a self-service one); a role an operator adds must be listed by every service the client is granted. Empty: roles are for admins.',
  ),
  self_service_max_access_token_ttl: nullable(
    Type.Integer({
      minimum: MIN_TOKEN_TTL,
      maximum: MAX_TOKEN_TTL,
      description:
        'The longest access_token_ttl (seconds) operators may give their own clients granted this service (a self-service one). Null: token lifetimes are for admins.',
    }),
  ),
  credential_max_lifetime_days: nullable(
    Type.Integer({
      minimum: 1,
      maximum: 3650,
      description:
        'The longest a new credential of a client granted this service may live, in days; with CREDENTIAL_MAX_LIFETIME_DAYS, the smallest that applies wins. Null: no limit of its own.',
    }),
  ),
};

export const createServiceBody = Type.Object(
  {
    id: serviceIdSchema,
    name: serviceFields.name,
    description: Type.Optional(serviceFields.description),
    audience: serviceFields.audience,
    scopes: Type.Optional(serviceFields.scopes),
    self_service: Type.Optional(serviceFields.self_service),
    access_token_ttl: Type.Optional(serviceFields.access_token_ttl),
    claims: Type.Optional(serviceFields.claims),
    self_service_roles: Type.Optional(serviceFields.self_service_roles),
    self_service_max_access_token_ttl: Type.Optional(serviceFields.self_service_max_access_token_ttl),
    credential_max_lifetime_days: Type.Optional(serviceFields.credential_max_lifetime_days),
  },
  { additionalProperties: false },
);
export type ServiceInput = Static<typeof createServiceBody>;

/**
 * Any of the create body's fields, at least one. The id is accepted as any short string so
 * that the rule can answer "cannot be changed" by name rather than by its pattern.
 */
export const patchServiceBody = Type.Partial(Type.Object({ ...createServiceBody.properties, id: Type.String({ maxLength: 64 }) }), {
  additionalProperties: false,
  minProperties: 1,
});
export type ServicePatch = Static<typeof patchServiceBody>;

export const serviceParams = Type.Object({ id: serviceIdSchema });

export const serviceResource = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  audience: Type.String(),
  scopes: Type.Array(Type.String()),
  built_in: Type.Boolean(),
  managed: Type.Boolean({
    description: 'Created by a configuration apply, which deletes it again once its document no longer lists it (prune).',
  }),
  self_service: Type.Boolean(),
  access_token_ttl: nullable(Type.Integer()),
  claims: Type.Record(Type.String(), Type.Unknown()),
  self_service_roles: Type.Array(Type.String()),
  self_service_max_access_token_ttl: nullable(Type.Integer()),
  credential_max_lifetime_days: nullable(Type.Integer()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
export type ServiceResource = Static<typeof serviceResource>;

export const serviceList = Type.Object({ items: Type.Array(serviceResource) });
