import { useIntl } from 'react-intl';
import type { Api, Service } from '../api';
import { NewRecordForm } from '../ui/NewRecordForm';
import { LoadStatus } from '../ui/StatusLines';
import { useWholeList, type WholeListFetcher } from '../ui/useWholeList';
import { readNewService, ServiceFields } from './ServiceFields';
import { ServicesTable } from './ServicesTable';

const fetchServices: WholeListFetcher<Service> = (api) => api.GET('/admin/services');

/** /console/services: the catalogue, and a form for a new service. */
export function ServicesList({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const { items: services, loadError, reload } = useWholeList(api, fetchServices, 'services.loadFailed', 'nav.services');
  const intl = useIntl();

  return (
    <section aria-labelledby="services-heading">
      <h1 id="services-heading">{intl.formatMessage({ id: 'nav.services' })}</h1>
      <p className="muted">{intl.formatMessage({ id: 'services.intro' })}</p>
      <LoadStatus error={loadError} loaded={services !== null} loadingText={intl.formatMessage({ id: 'services.loading' })} />
      {services !== null && services.length === 0 && <p className="empty">{intl.formatMessage({ id: 'services.none' })}</p>}
      {services !== null && services.length > 0 && <ServicesTable services={services} />}
      {canWrite && (
        <NewRecordForm
          messages={{ heading: 'services.new', submit: 'services.create', created: 'services.created', failed: 'services.createFailed' }}
          headingId="new-service-heading"
          read={(form) => readNewService(form, intl)}
          create={(body) => api.POST('/admin/services', { body })}
          onCreated={reload}
        >
          {(errors) => <ServiceFields errors={errors} withId />}
        </NewRecordForm>
      )}
    </section>
  );
}
