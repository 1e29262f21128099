import Type, { type Static, type TObject } from 'typebox';
import { createClientBody } from './clients.js';
import { clientIdSchema, stringEnum } from './common.js';
import { newCredentialBody } from './credentials.js';
import { CONFIG_KINDS, CONFIG_OPS } from './enums.js';
import { createServiceBody } from './services.js';
import { createTrustedIssuerBody } from './trusted-issuers.js';

/**
 * The configuration document (GET /admin/config, POST /admin/config/apply): a list per
 * kind of object, each entry in the shape of the admin API's create body, with the field
 * that names the object required. Read-only fields (created_at, status, managed, …) are
 * not part of it, and neither is any secret. A field added to a create body is in the
 * document at once; a kind is one more list here and one entry in config-as-code/kinds.ts.
 */

/** At most this many objects of one kind in a document. */
export const MAX_CONFIG_ENTRIES = 5000;

export const serviceEntry = Type.Object({ ...createServiceBody.properties }, { additionalProperties: false });
/**
 * A client's public key as a credential of its own, with its description and expiry (a
 * document carries no secret credential). Identified by its JWK thumbprint: an apply leaves
 * a key it already has as it is, adds the new ones and removes the ones no longer listed.
 */
export const credentialEntry = Type.Object(
  {
    kind: Type.Optional(stringEnum(['public_key'] as const)),
    description: newCredentialBody.properties.description,
    expires_at: newCredentialBody.properties.expires_at,
    jwk: newCredentialBody.properties.jwk,
    pem: newCredentialBody.properties.pem,
  },
  { additionalProperties: false },
);
export type CredentialEntry = Static<typeof credentialEntry>;

/** At most this many credentials in one client's entry (MAX_CREDENTIALS_PER_CLIENT bounds it further). */
const MAX_CREDENTIAL_ENTRIES = 100;

export const clientEntry = Type.Object(
  {
    ...createClientBody.properties,
    client_id: clientIdSchema,
    credentials: Type.Optional(
      Type.Array(credentialEntry, {
        maxItems: MAX_CREDENTIAL_ENTRIES,
        description: 'A private_key_jwt or self_signed_tls_client_auth client’s public keys, instead of jwks.',
      }),
    ),
  },
  { additionalProperties: false },
);
export const trustedIssuerEntry = Type.Object({ ...createTrustedIssuerBody.properties }, { additionalProperties: false });
export type ServiceEntry = Static<typeof serviceEntry>;
export type ClientEntry = Static<typeof clientEntry>;
export type TrustedIssuerEntry = Static<typeof trustedIssuerEntry>;

/** Each list of the document: its name, and the entry schema. */
export const CONFIG_SECTIONS = {
  services: serviceEntry,
  trusted_issuers: trustedIssuerEntry,
  clients: clientEntry,
} as const satisfies Record<string, TObject>;
export type ConfigSection = keyof typeof CONFIG_SECTIONS;
/** The field that names an object of each list: unique in the document, fixed forever. */
export const CONFIG_ID_FIELDS = {
  services: 'id',
  trusted_issuers: 'id',
  clients: 'client_id',
} as const satisfies Record<ConfigSection, string>;

export const configDocument = Type.Object(
  {
    // Lets an editor find the schema (GET /admin/config/schema, saved beside the file); ignored.
    $schema: Type.Optional(Type.String({ maxLength: 2000 })),
    services: Type.Optional(Type.Array(serviceEntry, { maxItems: MAX_CONFIG_ENTRIES })),
    trusted_issuers: Type.Optional(Type.Array(trustedIssuerEntry, { maxItems: MAX_CONFIG_ENTRIES })),
    clients: Type.Optional(Type.Array(clientEntry, { maxItems: MAX_CONFIG_ENTRIES })),
  },
  { additionalProperties: false },
);
export type ConfigDocument = Static<typeof configDocument>;

export const applyQuery = Type.Object(
  {
    dry_run: Type.Optional(Type.Boolean({ description: 'Check and report the changes, and change nothing.' })),
    prune: Type.Optional(Type.Boolean({ description: 'Delete the objects an earlier apply created that the document no longer lists.' })),
  },
  { additionalProperties: false },
);

export const configChange = Type.Object({
  op: stringEnum(CONFIG_OPS),
  kind: stringEnum(CONFIG_KINDS),
  id: Type.String(),
  fields: Type.Array(Type.String(), { description: 'The fields given (create) or changed (update); none for a delete.' }),
});
export type ConfigChange = Static<typeof configChange>;

export const applyResult = Type.Object({
  applied: Type.Boolean({ description: 'false for a dry run: nothing was changed.' }),
  changes: Type.Array(configChange),
  secrets: Type.Record(Type.String(), Type.String(), {
    description: 'The secret of each client this apply created with a secret (or switched to one), by client_id: shown this once.',
  }),
});
export type ApplyResult = Static<typeof applyResult>;
