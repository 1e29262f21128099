import { type IntlShape, useIntl } from 'react-intl';
import type { Api, Service, ServicePatch } from '../api';
import type { MessageId } from '../i18n/messages';
import { explainFieldErrors } from '../i18n/problems';
import { Link } from '../router';
import { DeletePanel } from '../ui/DeletePanel';
import { type DetailRow, DetailsList } from '../ui/DetailsList';
import { managedMessage } from '../ui/managed';
import { FormStatus, LoadStatus } from '../ui/StatusLines';
import { Time } from '../ui/Time';
import { type EditableResource, useRecordEditor } from '../ui/useRecordEditor';
import { readServiceChanges, ServiceFields } from './ServiceFields';

/** What a service offers operators, for a reader. */
function selfServiceRows(service: Service, intl: IntlShape): DetailRow[] {
  const say = (id: MessageId) => intl.formatMessage({ id });
  if (!service.self_service) return [];
  return [
    [say('service.operatorRoles'), service.self_service_roles.join(' ') || say('service.rolesByAdmins')],
    [
      say('service.operatorMaxTtl'),
      service.self_service_max_access_token_ttl === null
        ? say('service.lifetimesByAdmins')
        : intl.formatMessage({ id: 'common.seconds' }, { seconds: service.self_service_max_access_token_ttl }),
    ],
  ];
}

/** A service's fields, for a reader (who cannot edit). */
function ServiceSummary({ service }: { service: Service }) {
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });
  const rows: DetailRow[] = [
    [say('service.id'), service.id],
    [say('service.audience'), service.audience],
    [say('service.scopes'), service.scopes.join(' ') || '—'],
    [say('client.description'), service.description || '—'],
    [say('summary.managed'), say(managedMessage(service.managed))],
    [say('service.selfService'), say(service.self_service ? 'service.selfServiceYes' : 'common.no')],
    ...selfServiceRows(service, intl),
    [
      say('summary.tokenLifetime'),
      service.access_token_ttl === null
        ? say('service.lifetimeServer')
        : intl.formatMessage({ id: 'common.seconds' }, { seconds: service.access_token_ttl }),
    ],
    [say('summary.customClaims'), Object.keys(service.claims).length === 0 ? '—' : JSON.stringify(service.claims)],
    [say('client.created'), <Time key="created" iso={service.created_at} />],
    [say('summary.updated'), <Time key="updated" iso={service.updated_at} />],
  ];
  return <DetailsList rows={rows} />;
}

const SERVICE: EditableResource<Service, ServicePatch> = {
  loadFailed: 'service.loadFailed',
  saveFailed: 'service.saveFailed',
  listTitle: 'nav.services',
  listPath: '/services',
  get: (api, id) => api.GET('/admin/services/{id}', { params: { path: { id } } }),
  patch: (api, id, body) => api.PATCH('/admin/services/{id}', { params: { path: { id } }, body }),
  delete: (api, id) => api.DELETE('/admin/services/{id}', { params: { path: { id } } }),
  // A 409 lists the clients the service is still granted to.
  deleteErrors: (problem, intl) => explainFieldErrors(intl, problem, intl.formatMessage({ id: 'service.deleteFailed' })),
};

/** /console/services/:id: edit or delete one service (a built-in one: its name and description only, and no delete). */
export function ServiceDetail({ api, id, canWrite }: { api: Api; id: string; canWrite: boolean }) {
  const { record: service, loadError, errors, notice, save, remove } = useRecordEditor(api, id, SERVICE);
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });

  return (
    <section aria-labelledby="service-heading">
      <p>
        <Link to="/services">← {say('nav.services')}</Link>
      </p>
      <h1 id="service-heading">{service?.name ?? intl.formatMessage({ id: 'service.heading' }, { id })}</h1>
      <LoadStatus error={loadError} loaded={service !== null} loadingText={say('service.loading')} />
      <FormStatus errors={errors} notice={notice} />
      {service !== null && !canWrite && <ServiceSummary service={service} />}
      {service !== null && canWrite && (
        <>
          <p>
            {say('service.id')} <code>{service.id}</code>
            {service.built_in ? say('service.builtInFixed') : ''}
          </p>
          {service.managed && <p>{say(managedMessage(true))}</p>}
          <form className="stack" onSubmit={(event) => save(event, (form, record) => readServiceChanges(form, record, intl))} noValidate>
            <ServiceFields service={service} errors={errors} withId={false} />
            <button type="submit">{say('service.save')}</button>
          </form>
          {!service.built_in && (
            <DeletePanel
              label={say('service.delete')}
              question={intl.formatMessage({ id: 'service.deleteQuestion' }, { id: service.id })}
              confirmLabel={say('service.deleteYes')}
              headingId="service-delete-heading"
              onDelete={remove}
            />
          )}
        </>
      )}
    </section>
  );
}
