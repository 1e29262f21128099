import { InvalidRequest } from './errors.js';

/** The token request parameters Portier understands; others are ignored (RFC 6749 §3.2). */
export interface TokenParameters {
  grant_type?: string;
  client_id?: string;
  client_secret?: string;
  client_assertion?: string;
  client_assertion_type?: string;
  scope?: string;
  audience?: string;
  /** Introspection and revocation: the token in question. */
  token?: string;
  token_type_hint?: string;
  /** Token exchange (RFC 8693 §2.1). */
  subject_token?: string;
  subject_token_type?: string;
  actor_token?: string;
  actor_token_type?: string;
  requested_token_type?: string;
  /** The JWT bearer grant (RFC 7523 §2.1). */
  assertion?: string;
  /** RFC 8707 §2: the only parameter that may be repeated. */
  resource: string[];
}

type SingleValued = Exclude<keyof TokenParameters, 'resource'>;

const SINGLE_VALUED: ReadonlySet<string> = new Set<SingleValued>([
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'scope',
  'audience',
  'token',
  'token_type_hint',
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'assertion',
]);

function isSingleValued(name: string): name is SingleValued {
  return SINGLE_VALUED.has(name);
}

/**
 * Reads the parsed form body. A parameter sent twice is an invalid_request (RFC 6749 §3.2),
 * except `resource`, which RFC 8707 allows to repeat. Walks the parameters sent (three or
 * four in a token request) rather than looking up each of the fifteen Portier knows.
 */
export function readTokenParameters(body: unknown): TokenParameters {
  const params: TokenParameters = { resource: [] };
  if (typeof body !== 'object' || body === null) return params;
  const form = body as Record<string, unknown>;
  for (const name of Object.keys(form)) {
    const value = form[name];
    if (name === 'resource') {
      if (typeof value === 'string') params.resource = [value];
      else if (Array.isArray(value)) params.resource = value.map(String);
    } else if (isSingleValued(name) && value !== undefined) {
      if (typeof value !== 'string') throw new InvalidRequest(`parameter ${name} must not be repeated`);
      params[name] = value;
    }
  }
  return params;
}
