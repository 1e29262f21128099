import type { Api, Service } from '../api';
import { NewRecordForm } from '../ui/NewRecordForm';
import { LoadStatus } from '../ui/StatusLines';
import { useWholeList, type WholeListFetcher } from '../ui/useWholeList';
import { readNewService, ServiceFields } from './ServiceFields';
import { ServicesTable } from './ServicesTable';

const fetchServices: WholeListFetcher<Service> = (api) => api.GET('/admin/services');

/** /console/services: the catalogue, and a form for a new service. */
export function ServicesList({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const { items: services, loadError, reload } = useWholeList(api, fetchServices, 'services', 'Services');

  return (
    <section aria-labelledby="services-heading">
      <h1 id="services-heading">Services</h1>
      <p className="muted">What clients can be granted: each service is an audience and its scopes.</p>
      <LoadStatus error={loadError} loaded={services !== null} loadingText="Loading services…" />
      {services !== null && services.length === 0 && <p className="empty">No services.</p>}
      {services !== null && services.length > 0 && <ServicesTable services={services} />}
      {canWrite && (
        <NewRecordForm
          what="service"
          headingId="new-service-heading"
          read={readNewService}
          create={(body) => api.POST('/admin/services', { body })}
          onCreated={reload}
        >
          {(errors) => <ServiceFields errors={errors} withId />}
        </NewRecordForm>
      )}
    </section>
  );
}
