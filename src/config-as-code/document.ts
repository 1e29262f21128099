import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { containsSelfIdentifyingSecret } from '../clients/secrets.js';
import { type FieldError, ValidationError } from '../lib/errors.js';
import { bodyValidator, fieldErrors } from '../lib/validation.js';
import { CONFIG_ID_FIELDS, CONFIG_SECTIONS, type ConfigDocument, type ConfigSection, configDocument } from '../schemas/config.js';

/**
 * Reading and writing configuration documents: JSON or YAML text to a checked document,
 * and back. Every error names its place in the document the way a person reads it,
 * `clients[3].grants[0].service`, rather than as a JSON pointer.
 */

/** The place a whole-document error names (not valid YAML, not an object). */
export const DOCUMENT = 'document';

/** At most this many errors are listed: a document of 5,000 bad entries gets a short answer. */
const MAX_ERRORS = 100;

/** A document that cannot be applied; nothing of it was. Each error names its place. */
export class ConfigDocumentError extends ValidationError {
  constructor(errors: FieldError[]) {
    const listed = errors.slice(0, MAX_ERRORS);
    const shown = listed
      .slice(0, 3)
      .map((error) => `${error.path}: ${error.message}`)
      .join('; ');
    super(listed, `nothing was applied: ${shown}${errors.length > 3 ? `; and ${errors.length - 3} more` : ''}`);
  }
}

/** `/clients/3/grants/0/service` (a JSON pointer, as schema errors and the rules write paths) → `clients[3].grants[0].service`. */
export function placeOf(pointer: string, base = ''): string {
  let place = base;
  for (const token of pointer.split('/').filter((piece) => piece !== '')) {
    const name = token.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(name)) place += `[${name}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(name)) place += place === '' ? name : `.${name}`;
    else place += `[${JSON.stringify(name)}]`;
  }
  return place === '' ? DOCUMENT : place;
}

export type DocumentFormat = 'json' | 'yaml';

/** The media types of YAML a client may send or ask for. */
export const YAML_MEDIA_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'] as const;

/**
 * Parses the text of a document. YAML as the `yaml` package reads YAML 1.2 (core schema):
 * no custom tags, duplicate keys refused, and a bounded number of aliases, so a small
 * document cannot expand into a huge one.
 */
export function parseDocumentText(text: string, format: DocumentFormat): unknown {
  try {
    return format === 'json' ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    // The first line says what and where (`… at line 3, column 5:`); the rest quotes the text.
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.replace(/:$/, '') ?? '';
    throw new ConfigDocumentError([{ path: DOCUMENT, message: `is not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${reason}` }]);
  }
}

/**
 * Checks a parsed document against the schema (unknown fields, wrong types and lengths are
 * refused) and for ids listed twice; returns it typed, or throws a ConfigDocumentError
 * with every problem found.
 */
export function checkDocument(value: unknown): ConfigDocument {
  // An empty file is more likely a mistake than a wish to have nothing (which, with prune,
  // would delete every managed object): `{}` says that.
  if (value === null || value === undefined) throw new ConfigDocumentError([{ path: DOCUMENT, message: 'is empty' }]);
  const secrets = secretsIn(value, '');
  if (secrets.length > 0) throw new ConfigDocumentError(secrets);
  const check = bodyValidator.compile(configDocument);
  if (!check(value)) {
    throw new ConfigDocumentError(fieldErrors(check.errors ?? []).map((error) => ({ ...error, path: placeOf(error.path) })));
  }
  const document = value as ConfigDocument;
  const errors: FieldError[] = [];
  for (const section of Object.keys(CONFIG_SECTIONS) as ConfigSection[]) {
    const idField = CONFIG_ID_FIELDS[section];
    const seen = new Map<string, number>();
    (document[section] ?? []).forEach((entry, index) => {
      const id = (entry as Record<string, unknown>)[idField] as string;
      const first = seen.get(id);
      if (first === undefined) seen.set(id, index);
      else errors.push({ path: `${section}[${index}].${idField}`, message: `"${id}" is listed twice (also ${section}[${first}])` });
    });
  }
  if (errors.length > 0) throw new ConfigDocumentError(errors);
  return document;
}

/** Fields that would hold a secret: a document names none (secrets are made by Portier and shown once). */
const SECRET_FIELDS = new Set(['client_secret', 'secret', 'secrets', 'secret_hash', 'hash', 'previous_secret', 'private_key']);

const MAX_DEPTH = 32;

const NEVER_A_SECRET =
  'a configuration document never holds a secret: Portier makes each client secret and shows it once ' +
  '(at the apply that creates the client, or POST /admin/clients/{client_id}/credentials); remove it';

/**
 * The places in a document that name a secret, before any other check, so that such a
 * document is refused for that reason, clearly: a field meant for one (`client_secret`…),
 * a credential of kind `secret`, or a string holding a client secret of ours (its checksum
 * right), wherever it is. The secret itself is never repeated in the error.
 */
function secretsIn(value: unknown, pointer: string, depth = 0): FieldError[] {
  if (typeof value === 'string') {
    return containsSelfIdentifyingSecret(value)
      ? [
          {
            path: placeOf(pointer),
            message: `holds a client secret: ${NEVER_A_SECRET}, and revoke it if the file was shared (POST /admin/credentials/revoke-leaked)`,
          },
        ]
      : [];
  }
  // Deeper than any entry goes: the schema refuses it, and the walk stays off the stack's end.
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return [];
  const errors: FieldError[] = [];
  for (const [name, member] of Object.entries(value)) {
    const place = `${pointer}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const isSecretCredential = name === 'kind' && member === 'secret';
    if (!Array.isArray(value) && (SECRET_FIELDS.has(name) || isSecretCredential)) {
      errors.push({ path: placeOf(place), message: NEVER_A_SECRET });
    } else {
      errors.push(...secretsIn(member, place, depth + 1));
    }
  }
  return errors;
}

/** The document as text: YAML (two-space indents, no line folding) or indented JSON. */
export function formatDocument(document: ConfigDocument, format: DocumentFormat): string {
  return format === 'json' ? `${JSON.stringify(document, null, 2)}\n` : stringifyYaml(document, { lineWidth: 0 });
}

/**
 * The JSON Schema of the document, for editors (GET /admin/config/schema): the schema the
 * apply checks against, as plain JSON Schema (draft-07 keywords only).
 */
export function configSchemaDocument(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Portier configuration',
    description: 'Services, trusted issuers and clients, in the shapes of the admin API’s create bodies. Never contains a secret.',
    ...(JSON.parse(JSON.stringify(configDocument)) as Record<string, unknown>),
  };
}
