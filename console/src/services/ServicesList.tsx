import { useCallback, useEffect, useState } from 'react';
import type { Api, Service } from '../api';
import { problemMessage } from '../format';
import { NewService } from './NewService';
import { ServicesTable } from './ServicesTable';

/** /console/services: the catalogue, and a form for a new service. */
export function ServicesList({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const [services, setServices] = useState<Service[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

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
      {services !== null && services.length > 0 && <ServicesTable services={services} />}
      {canWrite && <NewService api={api} onCreated={load} />}
    </section>
  );
}
