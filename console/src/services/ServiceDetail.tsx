import { type FormEvent, useEffect, useState } from 'react';
import type { Api, Service } from '../api';
import { exactTime, fieldErrors, formText, managedText, problemMessage, readTokenShape, words } from '../format';
import { Link, useRouter } from '../router';
import { DeletePanel } from '../ui/DeletePanel';
import { DetailsList } from '../ui/DetailsList';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import { ServiceFields } from './ServiceFields';

/** A service's fields, for a reader (who cannot edit). */
function ServiceSummary({ service }: { service: Service }) {
  const rows = [
    ['ID', service.id],
    ['Audience', service.audience],
    ['Scopes', service.scopes.join(' ') || '—'],
    ['Description', service.description || '—'],
    ['Managed', managedText(service.managed)],
    ['Self-service', service.self_service ? 'yes: operators may grant it to their own clients' : 'no'],
    ['Token lifetime', service.access_token_ttl === null ? "the server's" : `${service.access_token_ttl} s`],
    ['Custom claims', Object.keys(service.claims).length === 0 ? '—' : JSON.stringify(service.claims)],
    ['Created', exactTime(service.created_at)],
    ['Updated', exactTime(service.updated_at)],
  ] as const;
  return <DetailsList rows={rows} />;
}

/** /console/services/:id: edit or delete one service (a built-in one: its name and description only, and no delete). */
export function ServiceDetail({ api, id, canWrite }: { api: Api; id: string; canWrite: boolean }) {
  const { navigate } = useRouter();
  const [service, setService] = useState<Service | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    document.title = `${id} · Services · Portier console`;
    api
      .GET('/admin/services/{id}', { params: { path: { id } } })
      .then(({ data, error }) =>
        data === undefined ? setLoadError(problemMessage(error, 'The service could not be loaded.')) : setService(data),
      )
      .catch(() => setLoadError('The service could not be loaded: Portier is not reachable.'));
  }, [api, id]);

  const save = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (service === null) return;
    const form = new FormData(event.currentTarget);
    const value = (name: string) => formText(form, name);
    const shape = readTokenShape(value);
    if (Object.keys(shape.errors).length > 0) {
      setErrors(shape.errors);
      return;
    }
    const common = { name: value('name'), description: value('description'), ...shape.body };
    const body = service.built_in
      ? common
      : { ...common, audience: value('audience'), scopes: words(value('scopes')), self_service: form.get('self_service') === 'on' };
    setErrors({});
    setNotice(null);
    const { data, error } = await api.PATCH('/admin/services/{id}', { params: { path: { id } }, body });
    if (data === undefined) setErrors(fieldErrors(error, 'The service could not be saved.'));
    else {
      setService(data);
      setNotice('Saved.');
    }
  };

  const remove = async () => {
    setErrors({});
    const { response, error } = await api.DELETE('/admin/services/{id}', { params: { path: { id } } });
    if (response.status === 204) navigate('/services', true);
    else setErrors(fieldErrors(error, 'The service could not be deleted.'));
  };

  return (
    <section aria-labelledby="service-heading">
      <p>
        <Link to="/services">← Services</Link>
      </p>
      <h1 id="service-heading">{service?.name ?? `Service ${id}`}</h1>
      {loadError !== null && (
        <p className="error" role="alert">
          {loadError}
        </p>
      )}
      {service === null && loadError === null && (
        <p role="status" className="muted">
          Loading service…
        </p>
      )}
      {fieldErrorViews(errors, 'service-error-').formError()}
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {service !== null && !canWrite && <ServiceSummary service={service} />}
      {service !== null && canWrite && (
        <>
          <p>
            ID <code>{service.id}</code>
            {service.built_in ? ': built in, its audience and scopes cannot change.' : ''}
          </p>
          {service.managed && <p>{managedText(true)}</p>}
          <form className="stack" onSubmit={save} noValidate>
            <ServiceFields service={service} errors={errors} withId={false} />
            <button type="submit">Save service</button>
          </form>
          {!service.built_in && (
            <DeletePanel
              what="service"
              id={service.id}
              consequence="This cannot be undone."
              headingId="service-delete-heading"
              onDelete={remove}
            />
          )}
        </>
      )}
    </section>
  );
}
