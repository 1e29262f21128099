import { type FormEvent, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Credential, NewCredentialBody, Problem } from '../api';
import { formText, fromLocalInput } from '../format';
import { explainFieldErrors, explainProblem } from '../i18n/problems';
import { fieldErrorViews } from '../ui/fieldErrorViews';

/** Reads a public key typed or pasted as a JWK (JSON) or PEM (a public key or certificate). */
export function readPublicKey(
  text: string,
): { jwk: NonNullable<NewCredentialBody['jwk']> } | { pem: string } | { error: 'empty' | 'json' } {
  const trimmed = text.trim();
  if (trimmed === '') return { error: 'empty' };
  if (trimmed.startsWith('-----BEGIN')) return { pem: trimmed };
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && 'kty' in parsed && typeof parsed.kty === 'string') {
      return { jwk: parsed as NonNullable<NewCredentialBody['jwk']> };
    }
  } catch {
    // said below
  }
  return { error: 'json' };
}

/**
 * A form that adds one credential of `kind` (what the client takes): a secret, with a
 * description and an expiry (empty: the longest the policy allows, or never), or a public key
 * as a JWK or PEM. The new secret goes to `onAdded`, to be shown once.
 */
export function AddCredential({
  api,
  clientId,
  kind,
  onAdded,
}: {
  api: Api;
  clientId: string;
  kind: Credential['kind'];
  onAdded: (secret: string | undefined) => Promise<void>;
}) {
  const intl = useIntl();
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState(false);
  // Closed until asked for: the client screen holds other forms (the edit form) with labels of their own.
  const [open, setOpen] = useState(false);
  const { aria, error, formError } = fieldErrorViews(errors, 'credential-error-');

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body: NewCredentialBody = { kind, description: formText(form, 'description') };
    const expires = formText(form, 'expires_at');
    if (expires !== '') {
      if (fromLocalInput(expires) === '') {
        setErrors({ expires_at: [intl.formatMessage({ id: 'form.invalidTime' })] });
        return;
      }
      body.expires_at = fromLocalInput(expires);
    }
    if (kind === 'public_key') {
      const key = readPublicKey(formText(form, 'key'));
      if ('error' in key) {
        setErrors({ key: [intl.formatMessage({ id: key.error === 'empty' ? 'credentials.keyEmpty' : 'credentials.keyNotJson' })] });
        return;
      }
      Object.assign(body, key);
    }
    setBusy(true);
    setErrors({});
    try {
      const { data, error: problem } = await api.POST('/admin/clients/{client_id}/credentials', {
        params: { path: { client_id: clientId } },
        body,
      });
      if (data === undefined) {
        const found = explainFieldErrors(intl, problem as Problem | undefined, intl.formatMessage({ id: 'credentials.addFailed' }));
        // The key's errors (jwk, pem) belong to the one field that holds it.
        const { jwk, pem, ...rest } = found;
        const keyErrors = [...(jwk ?? []), ...(pem ?? [])];
        setErrors(keyErrors.length > 0 ? { ...rest, key: keyErrors } : rest);
        return;
      }
      setOpen(false);
      await onAdded(data.secret);
    } catch (thrown) {
      setErrors({ form: [explainProblem(intl, thrown, intl.formatMessage({ id: 'actions.failed' }))] });
    } finally {
      setBusy(false);
    }
  };

  const heading = intl.formatMessage({ id: kind === 'secret' ? 'credentials.addSecret' : 'credentials.addKey' });
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        {heading}
      </button>
    );
  }
  return (
    <form className="stack" onSubmit={submit} noValidate aria-label={heading}>
      <h3>{heading}</h3>
      {formError()}
      {kind === 'public_key' && (
        <>
          <label htmlFor="credential-key">{intl.formatMessage({ id: 'credentials.keyLabel' })}</label>
          <textarea
            id="credential-key"
            name="key"
            rows={5}
            spellCheck={false}
            placeholder='{"kty": "EC", "crv": "P-256", …}'
            {...aria('key')}
          />
          {error('key')}
        </>
      )}
      <label htmlFor="credential-description">{intl.formatMessage({ id: 'credentials.purpose' })}</label>
      <input id="credential-description" name="description" {...aria('description')} />
      {error('description')}
      <label htmlFor="credential-expires">
        {intl.formatMessage({ id: 'credentials.expiresLabel' }, { zone: Intl.DateTimeFormat().resolvedOptions().timeZone })}
      </label>
      <input id="credential-expires" name="expires_at" type="datetime-local" {...aria('expires_at')} />
      {error('expires_at')}
      <div>
        <button type="submit" disabled={busy}>
          {heading}
        </button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setErrors({});
            setOpen(false);
          }}
        >
          {intl.formatMessage({ id: 'common.cancel' })}
        </button>
      </div>
    </form>
  );
}
