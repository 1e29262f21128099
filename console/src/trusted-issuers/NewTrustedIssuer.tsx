import { type FormEvent, useState } from 'react';
import type { Api } from '../api';
import { fieldErrors, formText } from '../format';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import { issuerFormBody } from './issuer-form';
import { readIssuerForm, TrustedIssuerFields } from './TrustedIssuerFields';

/** The new-issuer form; after an issuer is created it is emptied, and `onCreated` reloads the list. */
export function NewTrustedIssuer({ api, onCreated }: { api: Api; onCreated: () => Promise<void> }) {
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [formKey, setFormKey] = useState(0);

  const create = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setErrors({});
    setNotice(null);
    const made = issuerFormBody(readIssuerForm(form));
    if (!made.ok) {
      setErrors(made.errors);
      return;
    }
    const { data, error } = await api.POST('/admin/trusted-issuers', { body: { id: formText(form, 'id'), ...made.body } });
    if (data === undefined) {
      setErrors(fieldErrors(error, 'The trusted issuer could not be created.'));
      return;
    }
    setNotice(`Trusted issuer ${data.id} created.`);
    setFormKey((n) => n + 1);
    await onCreated();
  };

  return (
    <section aria-labelledby="new-issuer-heading">
      <h2 id="new-issuer-heading">New trusted issuer</h2>
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {fieldErrorViews(errors, 'issuer-error-').formError()}
      <form className="stack" onSubmit={create} key={formKey} noValidate>
        <TrustedIssuerFields errors={errors} withId />
        <div>
          <button type="submit">Create trusted issuer</button>
        </div>
      </form>
    </section>
  );
}
