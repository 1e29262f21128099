import Type, { type TSchema } from 'typebox';

/**
 * The building blocks of the admin API's shapes. Every request and response body, query
 * string and path parameter is defined once, in src/schemas/, with TypeBox: the same value
 * is the route's validation, the TypeScript type (Static<typeof …>), the OpenAPI document
 * at /docs and the CLI's validation. Semantic rules (does the service exist, is the CIDR a
 * network) live in the plain functions of src/clients/ and src/services/.
 */

import { CLIENT_ID_PATTERN, MAX_PAGE_SIZE, SERVICE_ID_PATTERN, TRUSTED_ISSUER_ID_PATTERN } from './limits.js';

export {
  CLIENT_ID_PATTERN,
  MAX_PAGE_SIZE,
  MAX_PREVIOUS_SECRET_VALIDITY,
  MAX_TOKEN_AGE_BOUNDS,
  SERVICE_ID_PATTERN,
  TRUSTED_ISSUER_ID_PATTERN,
} from './limits.js';

/**
 * What no text field may hold: control characters (names are shown in consoles and logs,
 * and PostgreSQL refuses NUL), and lone UTF-16 surrogates, which have no UTF-8 form and
 * which jsonb refuses. Ajv compiles patterns with the `u` flag, so a surrogate *pair*
 * (an emoji) is one code point and passes; only a lone half matches the range.
 */
const CONTROL_OR_LONE_SURROGATE = '\\u0000-\\u001f\\u007f\\ud800-\\udfff';
/**
 * An https URL as typed: no whitespace, control characters or lone surrogates (which
 * PostgreSQL refuses or changes); whether it is a URL at all is the rules' to say.
 */
export const HTTPS_URL = `^https://[^\\s${CONTROL_OR_LONE_SURROGATE}]+$`;
/** One line of text. */
const PRINTABLE = `^[^${CONTROL_OR_LONE_SURROGATE}]+$`;
/** Free text that may span lines: tab, line feed and carriage return are allowed. */
const MULTILINE = '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f\\ud800-\\udfff]*$';
/** Identifiers an operator types (owner, roles, scopes): visible ASCII, no spaces. */
export const TOKEN = '^[\\u0021-\\u007e]+$';

/** One line of text, 1 to `maxLength` characters. */
export const text = (maxLength: number, pattern = PRINTABLE) => Type.String({ minLength: 1, maxLength, pattern });
/** Text that may span lines (descriptions), possibly empty. */
export const multilineText = (maxLength: number) => Type.String({ maxLength, pattern: MULTILINE });
/** A filter in a query string: like text(), but may be empty. */
export const filterText = (maxLength: number) => Type.String({ maxLength, pattern: `^[^${CONTROL_OR_LONE_SURROGATE}]*$` });
export const dateTime = Type.String({ format: 'date-time', maxLength: 64 });
export const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
/** One of the given strings (with `type: string` in the schema, which OpenAPI tools like to see). */
export const stringEnum = <const T extends readonly string[]>(values: T) => Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });

export const clientIdSchema = Type.String({ minLength: 3, maxLength: 64, pattern: CLIENT_ID_PATTERN.source });
export const serviceIdSchema = Type.String({ minLength: 2, maxLength: 64, pattern: SERVICE_ID_PATTERN.source });
export const trustedIssuerIdSchema = Type.String({ minLength: 3, maxLength: 64, pattern: TRUSTED_ISSUER_ID_PATTERN.source });
export const scopeList = Type.Array(text(200, TOKEN), { maxItems: 100 });
/** Role names: a client's `roles`, and the ones a service lets operators choose (`self_service_roles`). */
export function roleList(description?: string) {
  return Type.Array(text(100, TOKEN), { maxItems: 50, uniqueItems: true, ...(description !== undefined && { description }) });
}

/** A page size in a query string. */
export const limitSchema = Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE });

/** One bad field of a request: its JSON-pointer-like path, e.g. `/grants/0/scopes/1`, and what is wrong. */
export const fieldError = Type.Object({ path: Type.String(), message: Type.String() });

/** An RFC 9457 problem document, as every admin error is answered. */
export const problemResponse = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  errors: Type.Optional(Type.Array(fieldError)),
  clients: Type.Optional(Type.Array(Type.String())),
});
