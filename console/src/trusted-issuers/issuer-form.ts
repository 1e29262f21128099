// The generated types directly, with '.js': this pure module is also compiled with the
// tests (node16 resolution), which test it without a browser.
import type { IntlShape } from 'react-intl';
import type { paths } from '../generated/admin-api.js';

type TrustedIssuer = paths['/admin/trusted-issuers/{id}']['get']['responses'][200]['content']['application/json'];
type TrustedIssuerPatch = NonNullable<paths['/admin/trusted-issuers/{id}']['patch']['requestBody']>['content']['application/json'];
/** The signature algorithms a trusted issuer may allow. */
export type FederatedAlgorithm = TrustedIssuer['algorithms'][number];

/** The pure part of the trusted-issuer form: what it shows, and the API body its values make. */

/** Every algorithm the API takes (test/console/federation-forms.test.ts checks that none is missing). */
export const ALGORITHMS: FederatedAlgorithm[] = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519'];
export const DEFAULT_MAX_TOKEN_AGE = 3600;

/** Where an issuer's keys come from: its discovery document, a jwks_uri, or keys pasted in. */
export type KeySource = 'discovery' | 'jwks_uri' | 'jwks';

export function keySourceOf(issuer: TrustedIssuer | undefined): KeySource {
  if (issuer?.jwks_uri != null) return 'jwks_uri';
  if (issuer?.jwks != null) return 'jwks';
  return 'discovery';
}

export interface IssuerFormValues {
  issuer: string;
  source: KeySource;
  jwksUri: string;
  /** The JWKS as JSON text. */
  jwksText: string;
  /** Empty: Portier's ISSUER. */
  audience: string;
  maxTokenAge: string;
  algorithms: FederatedAlgorithm[];
}

/**
 * The body the form's values make (every field, so that an edit replaces what was there),
 * or errors by field for what the browser can tell is wrong: keys that are not JSON, an
 * age that is not a whole number. The API checks everything else.
 */
export function issuerFormBody(
  values: IssuerFormValues,
  intl: Pick<IntlShape, 'formatMessage'>,
):
  | { ok: true; body: Required<Omit<TrustedIssuerPatch, 'id' | 'token_exchange' | 'jwt_bearer'>> }
  | { ok: false; errors: Record<string, string[]> } {
  const errors: Record<string, string[]> = {};
  let jwks: Required<TrustedIssuerPatch>['jwks'] = null;
  if (values.source === 'jwks') {
    try {
      jwks = JSON.parse(values.jwksText) as NonNullable<typeof jwks>;
    } catch {
      errors.jwks = [intl.formatMessage({ id: 'issuer.jwksNotJson' }, { example: '{"keys": […]}' })];
    }
  }
  const age = values.maxTokenAge.trim() === '' ? DEFAULT_MAX_TOKEN_AGE : Number(values.maxTokenAge);
  if (!Number.isInteger(age)) errors.max_token_age = [intl.formatMessage({ id: 'issuer.maxAgeWhole' })];
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    body: {
      issuer: values.issuer.trim(),
      jwks_uri: values.source === 'jwks_uri' ? values.jwksUri.trim() : null,
      jwks,
      audience: values.audience.trim() === '' ? null : values.audience.trim(),
      max_token_age: age,
      algorithms: ALGORITHMS.filter((alg) => values.algorithms.includes(alg)),
    },
  };
}
