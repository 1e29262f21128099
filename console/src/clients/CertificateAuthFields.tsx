import { useState } from 'react';
import { useIntl } from 'react-intl';
import type { Client, CreateClientBody } from '../api';
import type { MessageId } from '../i18n/messages';
import { fieldErrorViews } from '../ui/fieldErrorViews';

/** The two ways of RFC 8705 §2 a client signs in with its TLS client certificate. */
const METHODS = ['tls_client_auth', 'self_signed_tls_client_auth'] as const;
type CertificateMethod = (typeof METHODS)[number];

/** What a tls_client_auth client registers (RFC 8705 §2.1.2): exactly one of these. */
const REGISTERED = [
  ['tls_client_auth_subject_dn', 'certificate.subjectDn', 'CN=billing-sync,O=Example,C=NL'],
  ['tls_client_auth_san_dns', 'certificate.sanDns', 'billing.example.com'],
  ['tls_client_auth_san_uri', 'certificate.sanUri', 'spiffe://example.com/ns/billing/sa/sync'],
  ['tls_client_auth_san_ip', 'certificate.sanIp', '192.0.2.10'],
  ['tls_client_auth_san_email', 'certificate.sanEmail', 'billing@example.com'],
] as const satisfies ReadonlyArray<readonly [keyof Client, MessageId, string]>;
type RegisteredField = (typeof REGISTERED)[number][0];

/** The certificate fields of a create or a PATCH (both take the same ones). */
type CertificateBody = Pick<CreateClientBody, 'auth_method' | 'jwks' | 'tls_client_certificate_bound_access_tokens' | RegisteredField>;

/** The form's own error for a key list that is no JWK or JWKS: said in the person's language by the fields. */
const JWKS_INVALID = 'certificate.jwksInvalid' satisfies MessageId;

const isMethod = (value: string): value is CertificateMethod => (METHODS as readonly string[]).includes(value);

/**
 * What the certificate fields of `form` ask for: nothing when no certificate method is
 * chosen; else the method, what the certificate must show (the chosen field, the other four
 * emptied, so that exactly one is registered) or the self-signed certificates' keys (a JWK or
 * JWKS, with x5c where wanted), and whether tokens are bound to the certificate.
 */
export function readCertificateAuth(form: FormData): { body: CertificateBody; errors?: Record<string, string[]> } {
  const method = String(form.get('certificate_method') ?? '');
  if (!isMethod(method)) return { body: {} };
  const body: CertificateBody = {
    auth_method: method,
    tls_client_certificate_bound_access_tokens: form.get('certificate_bound') === 'on',
  };
  if (method === 'tls_client_auth') {
    const chosen = String(form.get('certificate_field') ?? '');
    for (const [field] of REGISTERED) body[field] = field === chosen ? String(form.get('certificate_value') ?? '').trim() : null;
    return { body };
  }
  const text = String(form.get('certificate_jwks') ?? '').trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'keys' in parsed && Array.isArray(parsed.keys)) {
      return { body: { ...body, jwks: parsed as NonNullable<CertificateBody['jwks']> } };
    }
    if (typeof parsed === 'object' && parsed !== null && 'kty' in parsed) {
      return { body: { ...body, jwks: { keys: [parsed as NonNullable<CertificateBody['jwks']>['keys'][number]] } } };
    }
  } catch {
    // said below
  }
  return { body, errors: { jwks: [JWKS_INVALID] } };
}

/**
 * A client form's certificate methods (RFC 8705): none (the form's other ways), tls_client_auth
 * with the subject DN or SAN its certificate must show, or self_signed_tls_client_auth with
 * its certificates' keys; and the bound-token flag. `client`: an edit, starting from its values.
 */
export function CertificateAuthFields({
  idPrefix,
  client,
  errors,
}: {
  idPrefix: string;
  client?: Client;
  errors: Record<string, string[]>;
}) {
  const intl = useIntl();
  const message = (id: MessageId) => intl.formatMessage({ id });
  const current = client !== undefined && isMethod(client.auth_method) ? client.auth_method : '';
  const [method, setMethod] = useState<CertificateMethod | ''>(current);
  const registered = REGISTERED.find(([field]) => typeof client?.[field] === 'string');
  const [field, setField] = useState<RegisteredField>(registered?.[0] ?? 'tls_client_auth_subject_dn');
  // Errors are said in the catalogue's words where the form made them, else as the API said them.
  const shown = Object.fromEntries(
    Object.entries(errors).map(([name, texts]) => [name, texts.map((text) => (text === JWKS_INVALID ? message(JWKS_INVALID) : text))]),
  );
  const { aria, error } = fieldErrorViews(shown, `${idPrefix}-certificate-error-`);
  const id = (name: string) => `${idPrefix}-certificate-${name}`;
  const placeholder = REGISTERED.find(([name]) => name === field)?.[2];
  return (
    <fieldset className="certificate-auth">
      <legend>{message('certificate.legend')}</legend>
      <label htmlFor={id('method')}>{message('certificate.method')}</label>
      <select
        id={id('method')}
        name="certificate_method"
        value={method}
        onChange={(event) => setMethod(isMethod(event.target.value) ? event.target.value : '')}
        {...aria('auth_method')}
      >
        {current === '' && <option value="">{message(client === undefined ? 'certificate.none' : 'certificate.keep')}</option>}
        <option value="tls_client_auth">{message('certificate.pki')}</option>
        <option value="self_signed_tls_client_auth">{message('certificate.selfSigned')}</option>
      </select>
      {error('auth_method')}
      {method === 'tls_client_auth' && (
        <>
          <label htmlFor={id('field')}>{message('certificate.matchBy')}</label>
          <select
            id={id('field')}
            name="certificate_field"
            value={field}
            onChange={(event) => setField(event.target.value as RegisteredField)}
          >
            {REGISTERED.map(([name, label]) => (
              <option key={name} value={name}>
                {message(label)}
              </option>
            ))}
          </select>
          <label htmlFor={id('value')}>{message(REGISTERED.find(([name]) => name === field)?.[1] ?? 'certificate.subjectDn')}</label>
          <input
            id={id('value')}
            name="certificate_value"
            key={field}
            spellCheck={false}
            placeholder={placeholder}
            defaultValue={(client?.[field] as string | null | undefined) ?? ''}
            {...aria(field)}
          />
          {REGISTERED.map(([name]) => error(name))}
        </>
      )}
      {method === 'self_signed_tls_client_auth' && (
        <>
          <label htmlFor={id('jwks')}>{message('certificate.jwks')}</label>
          <textarea
            id={id('jwks')}
            name="certificate_jwks"
            rows={5}
            spellCheck={false}
            placeholder='{"keys": [{"kty": "EC", "crv": "P-256", "x": "…", "y": "…", "x5c": ["MIIB…"]}]}'
            defaultValue={client?.jwks == null ? '' : JSON.stringify(client.jwks, null, 2)}
            {...aria('jwks')}
          />
          {error('jwks')}
        </>
      )}
      {method !== '' && (
        <label className="check">
          <input type="checkbox" name="certificate_bound" defaultChecked={client?.tls_client_certificate_bound_access_tokens ?? true} />
          {message('certificate.bindField')}
        </label>
      )}
    </fieldset>
  );
}
