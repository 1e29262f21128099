import Type, { type Static } from 'typebox';
import { nullable, stringEnum } from './common.js';
import { QUOTA_MODES, USAGE_GRANULARITIES } from './enums.js';
import { MAX_QUOTA, MAX_TOKEN_TTL, MIN_TOKEN_TTL } from './limits.js';

/**
 * The token policy fields of clients and services (lifetime, custom claims, quota), and the
 * usage of a client. The rules beyond these shapes (reserved claim names, size) are in
 * src/policy/.
 */

export const accessTokenTtlSchema = nullable(
  Type.Integer({
    minimum: MIN_TOKEN_TTL,
    maximum: MAX_TOKEN_TTL,
    description: `Seconds the tokens live (${MIN_TOKEN_TTL}–${MAX_TOKEN_TTL}); null: inherit (a client: its services', the smallest; a service: ACCESS_TOKEN_TTL).`,
  }),
);

/** A JSON object: the claims every token carries. Its names and size are checked by policy/claims.ts. */
export const claimsSchema = Type.Record(Type.String({ maxLength: 200 }), Type.Unknown(), {
  maxProperties: 100,
  description: 'Custom claims the tokens carry: a JSON object of at most 2 KB, without reserved names (iss, sub, aud, scope, roles, …).',
});

const quotaLimit = Type.Integer({ minimum: 1, maximum: MAX_QUOTA });

export const tokenQuotaSchema = Type.Object(
  {
    per_hour: Type.Optional(nullable(quotaLimit)),
    per_day: Type.Optional(nullable(quotaLimit)),
    mode: Type.Optional(stringEnum(QUOTA_MODES)),
  },
  { additionalProperties: false },
);
export type TokenQuotaInput = Static<typeof tokenQuotaSchema>;

/** The quota as the client resource shows it: every member present. */
export const tokenQuotaResource = Type.Object({
  per_hour: nullable(Type.Integer()),
  per_day: nullable(Type.Integer()),
  mode: stringEnum(QUOTA_MODES),
});

export const usageQuery = Type.Object({ granularity: Type.Optional(stringEnum(USAGE_GRANULARITIES)) }, { additionalProperties: false });

export const usageResponse = Type.Object({
  granularity: stringEnum(USAGE_GRANULARITIES),
  buckets: Type.Array(
    Type.Object({
      start: Type.String({ format: 'date-time', description: 'The start of the UTC hour or day' }),
      tokens: Type.Integer({ description: 'Tokens issued' }),
      refusals: Type.Integer({ description: 'Token requests naming this client that were refused, for any reason' }),
    }),
  ),
});
