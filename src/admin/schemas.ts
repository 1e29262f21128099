import { CLIENT_ID_PATTERN, SERVICE_ID_PATTERN } from '../clients/rules.js';
import { MAX_PREVIOUS_SECRET_VALIDITY } from '../clients/lifecycle.js';
import { MAX_PAGE_SIZE } from '../clients/list.js';
import { MAX_AUDIT_PAGE_SIZE } from '../audit/list.js';

/**
 * JSON schemas of the admin API: the validation of every request, the serialisation of
 * every response (fields not listed here never leave the server), and the OpenAPI
 * document at /docs, all at once. Semantic rules (does the service exist, is the CIDR a
 * network) live in src/clients/, which the CLI shares.
 */

/**
 * What no text field may hold: control characters (names are shown in consoles and logs,
 * and PostgreSQL refuses NUL), and lone UTF-16 surrogates, which have no UTF-8 form and
 * which jsonb refuses. Ajv compiles patterns with the `u` flag, so a surrogate *pair*
 * (an emoji) is one code point and passes; only a lone half matches the range.
 */
const CONTROL_OR_LONE_SURROGATE = '\\u0000-\\u001f\\u007f\\ud800-\\udfff';
/** One line of text. */
const PRINTABLE = `^[^${CONTROL_OR_LONE_SURROGATE}]+$`;
/** Free text that may span lines: tab, line feed and carriage return are allowed. */
const MULTILINE = '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f\\ud800-\\udfff]*$';
/** Identifiers an operator types (owner, roles, scopes): visible ASCII, no spaces. */
const TOKEN = '^[\\u0021-\\u007e]+$';

const text = (maxLength: number, pattern = PRINTABLE) => ({ type: 'string', minLength: 1, maxLength, pattern }) as const;
/** A filter in a query string: like text(), but may be empty. */
const filterText = (maxLength: number) => ({ type: 'string', maxLength, pattern: `^[^${CONTROL_OR_LONE_SURROGATE}]*$` }) as const;
const dateTime = { type: 'string', format: 'date-time', maxLength: 64 } as const;
const nullable = <T extends object>(schema: T) => ({ anyOf: [schema, { type: 'null' }] }) as const;

export const clientIdSchema = { type: 'string', minLength: 3, maxLength: 64, pattern: CLIENT_ID_PATTERN.source } as const;
export const serviceIdSchema = { type: 'string', minLength: 2, maxLength: 64, pattern: SERVICE_ID_PATTERN.source } as const;

const scopeList = { type: 'array', maxItems: 100, items: text(200, TOKEN) } as const;

const grantSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['service', 'scopes'],
  properties: { service: serviceIdSchema, scopes: scopeList },
} as const;

/**
 * A client's public key. Other members (x5c, key_ops, …) are accepted but not stored: the
 * key is kept as jose re-exports it, with these three (see checkClientJwks).
 */
const jwkSchema = {
  type: 'object',
  additionalProperties: true,
  maxProperties: 30,
  required: ['kty'],
  properties: {
    kty: text(10, TOKEN),
    kid: text(200),
    alg: text(20, TOKEN),
    // Keys verify the client's signed assertions (RFC 7523): a key for encryption cannot.
    use: { type: 'string', enum: ['sig'] },
  },
} as const;
const jwksSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['keys'],
  properties: { keys: { type: 'array', minItems: 1, maxItems: 10, items: jwkSchema } },
} as const;

/** The fields a client has that an admin can set (create and patch share them). */
const editableClientFields = {
  name: text(200),
  description: { type: 'string', maxLength: 2000, pattern: MULTILINE },
  first_name: nullable(text(100)),
  last_name: nullable(text(100)),
  roles: { type: 'array', maxItems: 50, uniqueItems: true, items: text(100, TOKEN) },
  grants: { type: 'array', maxItems: 50, items: grantSchema },
  ip_ranges: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 2, maxLength: 64, pattern: '^[0-9a-fA-F.:/]+$' } },
  expires_at: nullable(dateTime),
} as const;

export const createClientBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'owner'],
  properties: {
    client_id: clientIdSchema,
    owner: text(200, TOKEN),
    ...editableClientFields,
    auth_method: { type: 'string', enum: ['client_secret', 'private_key_jwt'] },
    jwks: nullable(jwksSchema),
  },
} as const;

export const patchClientBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    // Accepted by the schema so that the rule can answer "cannot be changed" by name.
    client_id: { type: 'string', maxLength: 64 },
    owner: { type: 'string', maxLength: 200 },
    ...editableClientFields,
  },
} as const;

export const clientResource = {
  type: 'object',
  additionalProperties: false,
  properties: {
    client_id: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    owner: { type: 'string' },
    created_by: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    first_name: { type: ['string', 'null'] },
    last_name: { type: ['string', 'null'] },
    roles: { type: 'array', items: { type: 'string' } },
    grants: {
      type: 'array',
      items: { type: 'object', properties: { service: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } } } },
    },
    ip_ranges: { type: 'array', items: { type: 'string' } },
    auth_method: { type: 'string', enum: ['client_secret', 'private_key_jwt'] },
    jwks: { type: ['object', 'null'], additionalProperties: true },
    expires_at: { type: ['string', 'null'], format: 'date-time' },
    enabled: { type: 'boolean' },
    status: { type: 'string', enum: ['active', 'disabled', 'expired'] },
    last_used_at: { type: ['string', 'null'], format: 'date-time' },
    service_account: { type: 'object', properties: { id: { type: 'string', format: 'uuid' }, username: { type: 'string' } } },
  },
} as const;

export const createdClientResource = {
  ...clientResource,
  properties: {
    ...clientResource.properties,
    client_secret: { type: 'string', description: 'Shown this once; only a hash is stored.' },
  },
} as const;

export const listClientsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: filterText(200),
    owner: filterText(200),
    created_by: filterText(200),
    status: { type: 'string', enum: ['active', 'disabled', 'expired'] },
    service: serviceIdSchema,
    expires_before: dateTime,
    expires_after: dateTime,
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE },
    cursor: { type: 'string', maxLength: 400 },
  },
} as const;

export const clientPage = {
  type: 'object',
  properties: { items: { type: 'array', items: clientResource }, next_cursor: { type: ['string', 'null'] } },
} as const;

export const clientParams = {
  type: 'object',
  required: ['client_id'],
  properties: { client_id: clientIdSchema },
} as const;

export const bulkBody = {
  type: 'object',
  additionalProperties: false,
  required: ['action', 'client_ids'],
  properties: {
    action: { type: 'string', enum: ['enable', 'disable'] },
    client_ids: { type: 'array', minItems: 1, maxItems: 200, uniqueItems: true, items: clientIdSchema },
  },
} as const;

export const bulkResponse = {
  type: 'object',
  properties: {
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          client_id: { type: 'string' },
          ok: { type: 'boolean' },
          status: { type: 'string' },
          error: { type: 'string' },
        },
      },
    },
  },
} as const;

export const regenerateSecretBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { previous_secret_valid_for: { type: 'integer', minimum: 0, maximum: MAX_PREVIOUS_SECRET_VALIDITY } },
} as const;

export const regeneratedSecret = {
  type: 'object',
  properties: {
    client_id: { type: 'string' },
    client_secret: { type: 'string', description: 'Shown this once; only a hash is stored.' },
    previous_secret_expires_at: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

const serviceFields = {
  name: text(200),
  description: { type: 'string', maxLength: 2000, pattern: MULTILINE },
  audience: { type: 'string', minLength: 1, maxLength: 500, pattern: TOKEN },
  scopes: { type: 'array', maxItems: 100, items: text(200, TOKEN) },
} as const;

export const createServiceBody = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'audience'],
  properties: { id: serviceIdSchema, ...serviceFields },
} as const;

export const patchServiceBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { id: { type: 'string', maxLength: 64 }, ...serviceFields },
} as const;

export const serviceParams = { type: 'object', required: ['id'], properties: { id: serviceIdSchema } } as const;

export const serviceResource = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    audience: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } },
    built_in: { type: 'boolean' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
} as const;

export const keysResponse = {
  type: 'object',
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          kid: { type: 'string' },
          alg: { type: 'string' },
          status: { type: 'string', enum: ['active', 'retired'] },
          created_at: { type: 'string', format: 'date-time' },
          retired_at: { type: ['string', 'null'], format: 'date-time' },
          publish_until: { type: ['string', 'null'], format: 'date-time' },
          // Public members only; the response schema is what keeps private ones out.
          public_jwk: {
            type: 'object',
            properties: {
              kty: { type: 'string' },
              kid: { type: 'string' },
              alg: { type: 'string' },
              use: { type: 'string' },
              crv: { type: 'string' },
              x: { type: 'string' },
              y: { type: 'string' },
              n: { type: 'string' },
              e: { type: 'string' },
            },
          },
        },
      },
    },
  },
} as const;

export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    action: filterText(100),
    client_id: filterText(1024),
    actor_client_id: filterText(1024),
    since: dateTime,
    until: dateTime,
    limit: { type: 'integer', minimum: 1, maximum: MAX_AUDIT_PAGE_SIZE },
    cursor: { type: 'string', maxLength: 20 },
  },
} as const;

export const auditPage = {
  type: 'object',
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          at: { type: 'string', format: 'date-time' },
          action: { type: 'string' },
          actor: {
            type: 'object',
            properties: { client_id: { type: ['string', 'null'] }, sub: { type: ['string', 'null'] }, ip: { type: ['string', 'null'] } },
          },
          client_id: { type: ['string', 'null'] },
          details: { type: 'object', additionalProperties: true },
          count: { type: 'integer' },
        },
      },
    },
    next_cursor: { type: ['string', 'null'] },
  },
} as const;

export const problemResponse = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
    clients: { type: 'array', items: { type: 'string' } },
  },
} as const;
