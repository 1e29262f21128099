import { type FormEvent, useState } from 'react';
import type { Api } from '../api';
import { fieldErrors, formText, readTokenShape, words } from '../format';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import { ServiceFields } from './ServiceFields';

/** The new-service form; after a service is created it is emptied, and `onCreated` reloads the catalogue. */
export function NewService({ api, onCreated }: { api: Api; onCreated: () => Promise<void> }) {
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [formKey, setFormKey] = useState(0);

  const create = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = (name: string) => formText(form, name);
    const shape = readTokenShape(value);
    setNotice(null);
    if (Object.keys(shape.errors).length > 0) {
      setErrors(shape.errors);
      return;
    }
    setErrors({});
    const { data, error } = await api.POST('/admin/services', {
      body: {
        id: value('id'),
        name: value('name'),
        audience: value('audience'),
        description: value('description'),
        scopes: words(value('scopes')),
        self_service: form.get('self_service') === 'on',
        ...shape.body,
      },
    });
    if (data === undefined) {
      setErrors(fieldErrors(error, 'The service could not be created.'));
      return;
    }
    setNotice(`Service ${data.id} created.`);
    setFormKey((n) => n + 1);
    await onCreated();
  };

  return (
    <section aria-labelledby="new-service-heading">
      <h2 id="new-service-heading">New service</h2>
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {fieldErrorViews(errors, 'service-error-').formError()}
      <form className="stack" onSubmit={create} key={formKey} noValidate>
        <ServiceFields errors={errors} withId />
        <button type="submit">Create service</button>
      </form>
    </section>
  );
}
