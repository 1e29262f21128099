import { type FormEvent, useCallback, useEffect, useState } from 'react';
import type { Api, Service } from '../api';
import { exactTime, fieldErrors, problemMessage } from '../format';
import { Link, useRouter } from '../router';

type Errors = Record<string, string[]>;

const scopesOf = (text: string) => text.split(/[\s,]+/).filter((scope) => scope !== '');

function ServiceFields({ service, errors, withId }: { service?: Service; errors: Errors; withId: boolean }) {
  const error = (name: string) =>
    errors[name] === undefined ? null : (
      <p className="field-error" id={`service-error-${name}`}>
        {errors[name].join('; ')}
      </p>
    );
  const aria = (name: string) =>
    errors[name] === undefined ? {} : { 'aria-invalid': true as const, 'aria-describedby': `service-error-${name}` };
  const fixed = service?.built_in === true;
  return (
    <>
      {withId && (
        <>
          <label htmlFor="service-id">Service ID (can never change)</label>
          <input id="service-id" name="id" required {...aria('id')} />
          {error('id')}
        </>
      )}
      <label htmlFor="service-name">Name</label>
      <input id="service-name" name="name" required defaultValue={service?.name} {...aria('name')} />
      {error('name')}
      <label htmlFor="service-audience">Audience (the aud of its tokens)</label>
      <input id="service-audience" name="audience" required defaultValue={service?.audience} readOnly={fixed} {...aria('audience')} />
      {error('audience')}
      <label htmlFor="service-scopes">Scopes (separated by spaces)</label>
      <input id="service-scopes" name="scopes" defaultValue={service?.scopes.join(' ')} readOnly={fixed} {...aria('scopes')} />
      {error('scopes')}
      <label htmlFor="service-description">Description</label>
      <textarea id="service-description" name="description" rows={2} defaultValue={service?.description} {...aria('description')} />
      {error('description')}
    </>
  );
}

/** /console/services: the catalogue, and a form for a new service. */
export function ServicesList({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const [services, setServices] = useState<Service[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [errors, setErrors] = useState<Errors>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [formKey, setFormKey] = useState(0);

  const load = useCallback(async () => {
    try {
      const { data, error } = await api.GET('/admin/services');
      if (data === undefined) setLoadError(problemMessage(error, 'The services could not be loaded.'));
      else setServices(data.items);
    } catch {
      setLoadError('The services could not be loaded: Portier is not reachable.');
    }
  }, [api]);

  useEffect(() => {
    document.title = 'Services · Portier console';
    void load();
  }, [load]);

  const create = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = (name: string) => String(form.get(name) ?? '').trim();
    setErrors({});
    setNotice(null);
    const { data, error } = await api.POST('/admin/services', {
      body: {
        id: value('id'),
        name: value('name'),
        audience: value('audience'),
        description: value('description'),
        scopes: scopesOf(value('scopes')),
      },
    });
    if (data === undefined) {
      setErrors(fieldErrors(error, 'The service could not be created.'));
      return;
    }
    setNotice(`Service ${data.id} created.`);
    setFormKey((n) => n + 1);
    await load();
  };

  return (
    <section aria-labelledby="services-heading">
      <h1 id="services-heading">Services</h1>
      <p className="muted">What clients can be granted: each service is an audience and its scopes.</p>
      {loadError !== null && (
        <p className="error" role="alert">
          {loadError}
        </p>
      )}
      {services === null && loadError === null && (
        <p role="status" className="muted">
          Loading services…
        </p>
      )}
      {services !== null && services.length === 0 && <p className="empty">No services.</p>}
      {services !== null && services.length > 0 && (
        <table className="services">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">ID</th>
              <th scope="col">Audience</th>
              <th scope="col">Scopes</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {services.map((service) => (
              <tr key={service.id}>
                <td data-label="Name">
                  <Link to={`/services/${encodeURIComponent(service.id)}`}>{service.name}</Link>
                  {service.built_in ? ' (built in)' : ''}
                </td>
                <td data-label="ID">
                  <code>{service.id}</code>
                </td>
                <td data-label="Audience">
                  <code>{service.audience}</code>
                </td>
                <td data-label="Scopes">{service.scopes.join(' ') || '—'}</td>
                <td data-label="Updated">
                  <time dateTime={service.updated_at}>{exactTime(service.updated_at)}</time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite && (
        <section aria-labelledby="new-service-heading">
          <h2 id="new-service-heading">New service</h2>
          {notice !== null && (
            <p className="notice" role="status">
              {notice}
            </p>
          )}
          {errors.form !== undefined && (
            <p className="error" role="alert">
              {errors.form.join('; ')}
            </p>
          )}
          <form className="stack" onSubmit={create} key={formKey} noValidate>
            <ServiceFields errors={errors} withId />
            <button type="submit">Create service</button>
          </form>
        </section>
      )}
    </section>
  );
}

/** /console/services/:id: edit or delete one service. */
export function ServiceDetail({ api, id, canWrite }: { api: Api; id: string; canWrite: boolean }) {
  const { navigate } = useRouter();
  const [service, setService] = useState<Service | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [errors, setErrors] = useState<Errors>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);

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
    const value = (name: string) => String(form.get(name) ?? '').trim();
    const body = service.built_in
      ? { name: value('name'), description: value('description') }
      : { name: value('name'), description: value('description'), audience: value('audience'), scopes: scopesOf(value('scopes')) };
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
    setConfirming(false);
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
      {errors.form !== undefined && (
        <p className="error" role="alert">
          {errors.form.join('; ')}
        </p>
      )}
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {service !== null && !canWrite && (
        <dl className="details">
          {(
            [
              ['ID', service.id],
              ['Audience', service.audience],
              ['Scopes', service.scopes.join(' ') || '—'],
              ['Description', service.description || '—'],
              ['Created', exactTime(service.created_at)],
              ['Updated', exactTime(service.updated_at)],
            ] as const
          ).map(([label, value]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      )}
      {service !== null && canWrite && (
        <>
          <p>
            ID <code>{service.id}</code>
            {service.built_in ? ': built in, its audience and scopes cannot change.' : ''}
          </p>
          <form className="stack" onSubmit={save} noValidate>
            <ServiceFields service={service} errors={errors} withId={false} />
            <button type="submit">Save service</button>
          </form>
          {!service.built_in && (
            <section className="panel danger-zone" aria-labelledby="service-delete-heading">
              <h2 id="service-delete-heading">Delete</h2>
              {confirming ? (
                <div role="alert">
                  <p>Delete the service {service.id}? This cannot be undone.</p>
                  <button type="button" className="danger" onClick={() => void remove()}>
                    Yes, delete service
                  </button>
                  <button type="button" className="secondary" onClick={() => setConfirming(false)}>
                    Keep it
                  </button>
                </div>
              ) : (
                <button type="button" className="danger" onClick={() => setConfirming(true)}>
                  Delete service
                </button>
              )}
            </section>
          )}
        </>
      )}
    </section>
  );
}
