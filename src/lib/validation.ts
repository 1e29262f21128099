import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FieldError } from './errors.js';

/**
 * How admin input is checked against the schemas in src/schemas/, in one place for the
 * admin routes and the CLI, so both accept exactly the same input.
 *
 * A JSON body is checked as sent, without type coercion: `"name": 123` or `"roles": "x"`
 * is refused, not turned into a name "123" or a list of one. Query strings and path
 * parameters are text by nature and keep coercion (`limit=10` is a number). Unknown
 * fields are refused, not silently dropped, and every bad field is reported: allErrors is
 * safe because every string and array in the schemas has a length limit.
 */
function createAjv(coerceTypes: false | 'array'): Ajv {
  const ajv = new Ajv({ allErrors: true, removeAdditional: false, useDefaults: true, coerceTypes });
  addFormats.default(ajv);
  return ajv;
}

export const bodyValidator = createAjv(false);
export const textValidator = createAjv('array');

/** At most this many field errors are listed: a body of 10,000 bad items gets a short answer. */
const MAX_FIELD_ERRORS = 100;

/** What Ajv (and Fastify, which passes Ajv's errors on) says about one bad value. */
interface SchemaIssue {
  instancePath: string;
  params: Record<string, unknown>;
  message?: string | undefined;
}

/**
 * Schema errors as `{ path, message }` per bad field. `prefix` names the part of the
 * request for anything but the body (`/querystring`, `/params`).
 */
export function fieldErrors(issues: readonly SchemaIssue[], prefix = ''): FieldError[] {
  return issues.slice(0, MAX_FIELD_ERRORS).map((issue) => {
    const { additionalProperty, missingProperty } = issue.params;
    if (typeof additionalProperty === 'string') {
      return { path: `${prefix}${issue.instancePath}/${additionalProperty}`, message: 'is not a known field' };
    }
    if (typeof missingProperty === 'string') {
      return { path: `${prefix}${issue.instancePath}/${missingProperty}`, message: 'is required' };
    }
    return { path: `${prefix}${issue.instancePath}` || '/', message: issue.message ?? 'is invalid' };
  });
}
