import type { Api, Service, ServicePatch } from '../api';
import { exactTime, fieldErrors, managedText } from '../format';
import { Link } from '../router';
import { DeletePanel } from '../ui/DeletePanel';
import { DetailsList } from '../ui/DetailsList';
import { FormStatus, LoadStatus } from '../ui/StatusLines';
import { type EditableResource, useRecordEditor } from '../ui/useRecordEditor';
import { readServiceChanges, ServiceFields } from './ServiceFields';

/** A service's fields, for a reader (who cannot edit). */
function ServiceSummary({ service }: { service: Service }) {
  const rows = [
    ['ID', service.id],
    ['Audience', service.audience],
    ['Scopes', service.scopes.join(' ') || '—'],
    ['Description', service.description || '—'],
    ['Managed', managedText(service.managed)],
    ['Self-service', service.self_service ? 'yes: operators may grant it to their own clients' : 'no'],
    ...(service.self_service
      ? ([
          ['Roles operators may choose', service.self_service_roles.join(' ') || 'none: roles are set by admins'],
          [
            'Longest lifetime operators may choose',
            service.self_service_max_access_token_ttl === null
              ? 'none: lifetimes are set by admins'
              : `${service.self_service_max_access_token_ttl} s`,
          ],
        ] as const)
      : []),
    ['Token lifetime', service.access_token_ttl === null ? "the server's" : `${service.access_token_ttl} s`],
    ['Custom claims', Object.keys(service.claims).length === 0 ? '—' : JSON.stringify(service.claims)],
    ['Created', exactTime(service.created_at)],
    ['Updated', exactTime(service.updated_at)],
  ] as const;
  return <DetailsList rows={rows} />;
}

const SERVICE: EditableResource<Service, ServicePatch> = {
  what: 'service',
  listTitle: 'Services',
  listPath: '/services',
  get: (api, id) => api.GET('/admin/services/{id}', { params: { path: { id } } }),
  patch: (api, id, body) => api.PATCH('/admin/services/{id}', { params: { path: { id } }, body }),
  delete: (api, id) => api.DELETE('/admin/services/{id}', { params: { path: { id } } }),
  // A 409 lists the clients the service is still granted to.
  deleteErrors: (problem) => fieldErrors(problem, 'The service could not be deleted.'),
};

/** /console/services/:id: edit or delete one service (a built-in one: its name and description only, and no delete). */
export function ServiceDetail({ api, id, canWrite }: { api: Api; id: string; canWrite: boolean }) {
  const { record: service, loadError, errors, notice, save, remove } = useRecordEditor(api, id, SERVICE);

  return (
    <section aria-labelledby="service-heading">
      <p>
        <Link to="/services">← Services</Link>
      </p>
      <h1 id="service-heading">{service?.name ?? `Service ${id}`}</h1>
      <LoadStatus error={loadError} loaded={service !== null} loadingText="Loading service…" />
      <FormStatus errors={errors} notice={notice} />
      {service !== null && !canWrite && <ServiceSummary service={service} />}
      {service !== null && canWrite && (
        <>
          <p>
            ID <code>{service.id}</code>
            {service.built_in ? ': built in, its audience and scopes cannot change.' : ''}
          </p>
          {service.managed && <p>{managedText(true)}</p>}
          <form className="stack" onSubmit={(event) => save(event, readServiceChanges)} noValidate>
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
